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
	m, expanded := attnMask("Attention", mask, b, lq, lk, q.shape, k.shape)
	out := newOut([]int{b, h, lq, d}, withMask([]*Tensor{q, k, v}, mask)...)
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
	readsOwnValues(out)
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

// withMask lists an attention's inputs with its mask (which takes no
// gradient) last, so that Release reaches a pooled mask and recycles it.
func withMask(inputs []*Tensor, mask *Tensor) []*Tensor {
	if mask == nil {
		return inputs
	}
	return append(inputs[:len(inputs):len(inputs)], mask)
}

// attnMask returns the (B, Lq, Lk) additive mask data of mask (nil for
// none), expanding a (B, 1, Lk) key mask into a pooled buffer (expanded,
// which the caller puts back).
func attnMask(op string, mask *Tensor, b, lq, lk int, qShape, kShape []int) (m, expanded []float32) {
	if mask == nil {
		return nil, nil
	}
	mask.live(op + " mask")
	switch {
	case sameShape(mask.shape, []int{b, lq, lk}):
		return mask.data, nil
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
		return expanded, expanded
	}
	panic(fmt.Sprintf("tensor: %s: mask %v for q %v and k %v (want (B,Lq,Lk) or (B,1,Lk))", op, mask.shape, qShape, kShape))
}

// AttnLayout locates a (B, H, L, D) attention operand in a buffer: element
// (b, h, i, c) is at Off + b·Batch + h·Head + i·Row + c.
type AttnLayout struct{ Off, Batch, Head, Row int }

// AttnArgs are the operands of one strided attention call (see
// StridedAttention). Mask is additive (B, Lq, Lk), shared by the heads, or
// nil; LSE is (B, H, Lq), contiguous.
type AttnArgs struct {
	B, H, Lq, Lk, D  int
	Scale            float32
	Causal           bool
	Mask             []float32
	Q, K, V, Out     []float32
	QL, KL, VL, OutL AttnLayout
	LSE              []float32
}

// StridedAttention is an optional extension of Backend: attention on
// operands in any layout, so that AttentionHeads reads heads from and
// writes them to (B, L, H·D) tensors in place. Without it AttentionHeads
// copies the heads into contiguous buffers around Attention and
// AttentionBackward.
type StridedAttention interface {
	// AttentionStrided sets Out (at OutL) and LSE as Attention does.
	AttentionStrided(a *AttnArgs)
	// AttentionStridedBackward overwrites dq, dk and dv at the positions
	// that a.QL, a.KL and a.VL address (and nothing else) with the
	// gradients given dout (at a.OutL); a.Out and a.LSE hold the
	// forward's results. dq, dk and dv may be one buffer when their
	// positions do not overlap.
	AttentionStridedBackward(a *AttnArgs, dq, dk, dv, dout []float32)
}

// attnStrides returns the element strides of a layout (for Strided).
func (l AttnLayout) strides() []int { return []int{l.Batch, l.Head, l.Row, 1} }

// contiguousLayout is the layout of a contiguous (B, H, L, D) buffer.
func contiguousLayout(h, l, d int) AttnLayout { return AttnLayout{0, h * l * d, l * d, d} }

// attentionStrided runs a strided attention forward on the current backend.
func attentionStrided(a *AttnArgs) {
	if sa, ok := backend.(StridedAttention); ok {
		sa.AttentionStrided(a)
		return
	}
	b, h, lq, lk, d := a.B, a.H, a.Lq, a.Lk, a.D
	q, k, v, out := pool.get(b*h*lq*d), pool.get(b*h*lk*d), pool.get(b*h*lk*d), pool.get(b*h*lq*d)
	gatherHeads(q, a.Q, a.QL, b, h, lq, d)
	gatherHeads(k, a.K, a.KL, b, h, lk, d)
	gatherHeads(v, a.V, a.VL, b, h, lk, d)
	backend.Attention(out, a.LSE, q, k, v, b, h, lq, lk, d, a.Scale, a.Causal, a.Mask)
	scatterHeads(a.Out, a.OutL, out, b, h, lq, d)
	for _, x := range [][]float32{q, k, v, out} {
		pool.put(x)
	}
}

// attentionStridedBackward runs a strided attention backward on the
// current backend (overwriting dq, dk, dv at their layouts).
func attentionStridedBackward(a *AttnArgs, dq, dk, dv, dout []float32) {
	if sa, ok := backend.(StridedAttention); ok {
		sa.AttentionStridedBackward(a, dq, dk, dv, dout)
		return
	}
	b, h, lq, lk, d := a.B, a.H, a.Lq, a.Lk, a.D
	nq, nk := b*h*lq*d, b*h*lk*d
	q, k, v, out, do := pool.get(nq), pool.get(nk), pool.get(nk), pool.get(nq), pool.get(nq)
	gq, gk, gv := pool.getZero(nq), pool.getZero(nk), pool.getZero(nk)
	gatherHeads(q, a.Q, a.QL, b, h, lq, d)
	gatherHeads(k, a.K, a.KL, b, h, lk, d)
	gatherHeads(v, a.V, a.VL, b, h, lk, d)
	gatherHeads(out, a.Out, a.OutL, b, h, lq, d)
	gatherHeads(do, dout, a.OutL, b, h, lq, d)
	backend.AttentionBackward(gq, gk, gv, do, q, k, v, out, a.LSE, b, h, lq, lk, d, a.Scale, a.Causal, a.Mask)
	scatterHeads(dq, a.QL, gq, b, h, lq, d)
	scatterHeads(dk, a.KL, gk, b, h, lk, d)
	scatterHeads(dv, a.VL, gv, b, h, lk, d)
	for _, x := range [][]float32{q, k, v, out, do, gq, gk, gv} {
		pool.put(x)
	}
}

// gatherHeads copies the operand at layout l of src into a contiguous
// (B, H, L, D) dst; scatterHeads is the reverse.
func gatherHeads(dst, src []float32, l AttnLayout, b, h, n, d int) {
	if b*h*n*d == 0 {
		return
	}
	shape := []int{b, h, n, d}
	backend.Strided(shape, dst, contiguousStrides(shape), src[l.Off:], l.strides(), false)
}

func scatterHeads(dst []float32, l AttnLayout, src []float32, b, h, n, d int) {
	if b*h*n*d == 0 {
		return
	}
	shape := []int{b, h, n, d}
	backend.Strided(shape, dst[l.Off:], l.strides(), src, contiguousStrides(shape), false)
}

// AttentionHeads is Attention with the heads laid out along the last axis
// of (B, L, ·) tensors, as a transformer's projections produce them: the
// W = H·D query features are columns qCol..qCol+W of q (B, Lq, Cq), head h
// taking D consecutive columns; the keys are columns kCol.. of k (B, Lk, Ck)
// and the values columns vCol.. of v (B, Lk, Cv). q, k and v may be one
// tensor, e.g. a packed (B, L, 3·W) projection with columns 0, W and 2·W.
// The result is (B, Lq, W), heads merged: the values of Attention on split
// heads followed by merging them, without copying heads either way. mask,
// causal and scale are as in Attention.
func AttentionHeads(q *Tensor, qCol int, k *Tensor, kCol int, v *Tensor, vCol int, heads, width int, mask *Tensor, causal bool, scale float32) *Tensor {
	bad := len(q.shape) != 3 || len(k.shape) != 3 || len(v.shape) != 3 || heads <= 0 || width < 0 || width%heads != 0 ||
		k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0] || k.shape[1] != v.shape[1]
	if !bad {
		for _, c := range []struct{ col, n int }{{qCol, q.shape[2]}, {kCol, k.shape[2]}, {vCol, v.shape[2]}} {
			if c.col < 0 || c.col+width > c.n {
				bad = true
			}
		}
	}
	if bad {
		panic(fmt.Sprintf("tensor: AttentionHeads: q %v (column %d), k %v (column %d), v %v (column %d) for %d heads of width %d (want (B,Lq,·), (B,Lk,·), (B,Lk,·) with the columns inside)",
			q.shape, qCol, k.shape, kCol, v.shape, vCol, heads, width))
	}
	b, lq, lk := q.shape[0], q.shape[1], k.shape[1]
	h, d := heads, width/heads
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	m, expanded := attnMask("AttentionHeads", mask, b, lq, lk, q.shape, k.shape)
	layout := func(t *Tensor, col int) AttnLayout {
		c := t.shape[2]
		return AttnLayout{Off: col, Batch: t.shape[1] * c, Head: d, Row: c}
	}
	inputs := []*Tensor{q}
	if k != q {
		inputs = append(inputs, k)
	}
	if v != q && v != k {
		inputs = append(inputs, v)
	}
	out := newOut([]int{b, lq, width}, withMask(inputs, mask)...)
	a := &AttnArgs{B: b, H: h, Lq: lq, Lk: lk, D: d, Scale: scale, Causal: causal, Mask: m,
		Q: q.data, K: k.data, V: v.data, Out: out.data,
		QL: layout(q, qCol), KL: layout(k, kCol), VL: layout(v, vCol), OutL: AttnLayout{0, lq * width, d, width},
		LSE: pool.get(b * h * lq)}
	attentionStrided(a)
	if !out.requiresGrad {
		pool.put(a.LSE)
		if expanded != nil {
			pool.put(expanded)
		}
		return out
	}
	out.keep(a.LSE)
	if expanded != nil {
		out.keep(expanded)
	}
	readsOwnValues(out)
	cols := map[*Tensor][]int{} // the column ranges each input gives
	for _, x := range []struct {
		t   *Tensor
		col int
	}{{q, qCol}, {k, kCol}, {v, vCol}} {
		cols[x.t] = append(cols[x.t], x.col)
	}
	out.back = func() {
		a.Out = out.data
		grads := make(map[*Tensor][]float32, len(inputs))
		var temps []*Tensor
		for _, t := range inputs {
			covered := coversColumns(cols[t], width, t.shape[2])
			if covered && t.requiresGrad && t.grad == nil && t.base == nil && t.pooled {
				// First gradient of an intermediate whose every element
				// the kernel writes: let it overwrite a fresh buffer.
				t.grad = pool.get(len(t.data))
				grads[t] = t.grad
				continue
			}
			if covered {
				grads[t] = pool.get(len(t.data))
			} else {
				grads[t] = pool.getZero(len(t.data))
			}
			temps = append(temps, t)
		}
		attentionStridedBackward(a, grads[q], grads[k], grads[v], out.grad)
		for _, t := range temps {
			if t.requiresGrad {
				backend.Axpy(1, grads[t], t.gradBuf())
			}
			pool.put(grads[t])
		}
	}
	return out
}

// coversColumns reports whether column ranges [c, c+w) for c in starts tile
// [0, n) without overlap.
func coversColumns(starts []int, w, n int) bool {
	if len(starts)*w != n {
		return false
	}
	seen := make([]bool, len(starts))
	at := 0
	for range starts {
		found := false
		for i, c := range starts {
			if !seen[i] && c == at {
				seen[i], found = true, true
				at += w
				break
			}
		}
		if !found {
			return false
		}
	}
	return at == n
}
