package tensor

import (
	"fmt"
	"math"
)

// Attention is multi-head scaled-dot-product attention:
// softmax(q·kᵀ·scale + mask)·v, for q (B, H, Lq, D) and k, v (B, H, Lk, D).
// mask, if not nil, is additive (B, Lq, Lk) or (B, 1, Lk) (−Inf hides a key)
// and shared by the heads; it takes no gradient. causal hides key j from
// query i when j > i + Lk − Lq. A query that sees no key outputs zeros.
// scale 0 means 1/sqrt(D).
func Attention(q, k, v, mask *Tensor, causal bool, scale float32) *Tensor {
	if len(q.shape) != 4 || len(k.shape) != 4 || !sameShape(k.shape, v.shape) ||
		q.shape[0] != k.shape[0] || q.shape[1] != k.shape[1] || q.shape[3] != k.shape[3] {
		panic(fmt.Sprintf("tensor: Attention: q %v, k %v, v %v (want (B,H,Lq,D), (B,H,Lk,D), (B,H,Lk,D))", q.shape, k.shape, v.shape))
	}
	b, h, lq, d := q.shape[0], q.shape[1], q.shape[2], q.shape[3]
	lk := k.shape[2]
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	var m []float32
	var expanded []float32
	if mask != nil {
		mask.live("Attention mask")
		switch {
		case sameShape(mask.shape, []int{b, lq, lk}):
			m = mask.data
		case sameShape(mask.shape, []int{b, 1, lk}):
			expanded = pool.get(b * lq * lk)
			if OnDevice() { // a host copy would move the buffer to the host
				backend.Strided([]int{b, lq, lk}, expanded, []int{lq * lk, lk, 1}, mask.data, []int{lk, 0, 1}, false)
			} else {
				for bi := 0; bi < b; bi++ {
					for i := 0; i < lq; i++ {
						copy(expanded[(bi*lq+i)*lk:(bi*lq+i+1)*lk], mask.data[bi*lk:(bi+1)*lk])
					}
				}
			}
			m = expanded
		default:
			panic(fmt.Sprintf("tensor: Attention: mask %v for q %v and k %v (want (B,Lq,Lk) or (B,1,Lk))", mask.shape, q.shape, k.shape))
		}
	}
	out := newOut([]int{b, h, lq, d}, q, k, v)
	lse := pool.get(b * h * lq)
	backend.Attention(out.data, lse, q.data, k.data, v.data, b, h, lq, lk, d, scale, causal, m)
	if !out.requiresGrad {
		pool.put(lse)
		if expanded != nil {
			pool.put(expanded)
		}
		return out
	}
	out.keep(lse)
	if expanded != nil {
		out.keep(expanded)
	}
	out.back = func() {
		grad := func(t *Tensor) ([]float32, bool) {
			if t.requiresGrad {
				return t.gradBuf(), false
			}
			return pool.getZero(t.Numel()), true
		}
		dq, fq := grad(q)
		dk, fk := grad(k)
		dv, fv := grad(v)
		backend.AttentionBackward(dq, dk, dv, out.grad, q.data, k.data, v.data, out.data, lse, b, h, lq, lk, d, scale, causal, m)
		for _, f := range []struct {
			b    []float32
			free bool
		}{{dq, fq}, {dk, fk}, {dv, fv}} {
			if f.free {
				pool.put(f.b)
			}
		}
	}
	return out
}
