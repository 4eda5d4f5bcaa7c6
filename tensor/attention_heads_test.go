package tensor

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// hostOnly hides the CPU backend's optional methods, so AttentionHeads
// takes its copying fallback.
type hostOnly struct{ Backend }

// TestAttentionHeads compares AttentionHeads with Attention on heads split
// and merged by Permute: outputs and the gradients of every input, bit for
// bit, on the CPU backend and on its copying fallback, for a packed
// self-attention projection, a packed key/value projection, separate
// tensors with unused columns, views, inputs without gradients, both mask
// shapes and causality.
func TestAttentionHeads(t *testing.T) {
	type tc struct {
		name      string
		b, lq, lk int
		heads, w  int
		layout    string // "qkv", "q+kv", "separate"
		causal    bool
		mask      string // "", "full", "key"
		noGradK   bool
		viewQ     bool
	}
	cases := []tc{
		{"self packed causal", 2, 7, 7, 3, 12, "qkv", true, "", false, false},
		{"self packed mask", 2, 5, 5, 2, 8, "qkv", false, "full", false, false},
		{"cross q+kv", 3, 4, 9, 2, 6, "q+kv", false, "", false, false},
		{"cross separate key mask", 2, 6, 5, 4, 16, "separate", false, "key", false, true},
		{"separate no grad k", 1, 3, 8, 1, 5, "separate", true, "", true, false},
		{"one query", 2, 1, 6, 2, 4, "q+kv", true, "", false, false},
	}
	for _, c := range cases {
		for _, fallback := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s fallback=%v", c.name, fallback), func(t *testing.T) {
				if fallback {
					old := SetBackend(hostOnly{CurrentBackend()})
					defer SetBackend(old)
				}
				g := NewRNG(uint64(len(c.name)))
				param := func(shape ...int) *Tensor {
					p := NewParam("p", shape...)
					g.Normal(p, 0, 1)
					return p
				}
				w := c.w
				// Inputs: q from xq (B, Lq, ·), k and v from xk (B, Lk, ·).
				var xq, xk, xv *Tensor
				var qCol, kCol, vCol int
				switch c.layout {
				case "qkv":
					xq = param(c.b, c.lq, 3*w)
					xk, xv, qCol, kCol, vCol = xq, xq, 0, w, 2*w
				case "q+kv":
					xq = param(c.b, c.lq, w)
					xk = param(c.b, c.lk, 2*w)
					xv, kCol, vCol = xk, 0, w
				default:
					xq = param(c.b, c.lq, w+3)
					xk = param(c.b, c.lk, w+1)
					xv = param(c.b, c.lk, w)
					qCol, kCol = 2, 1
				}
				if c.noGradK {
					xk.SetRequiresGrad(false)
				}
				var mask *Tensor
				switch c.mask {
				case "full":
					mask = New(c.b, c.lq, c.lk)
					g.Normal(mask, 0, 1)
					mask.Data()[1] = float32(math.Inf(-1))
				case "key":
					mask = New(c.b, 1, c.lk)
					mask.Data()[c.lk-1] = float32(math.Inf(-1))
				}
				dOut := New(c.b, c.lq, w)
				g.Normal(dOut, 0, 1)
				h, d := c.heads, w/c.heads
				// Intermediates (so that gradients are pooled buffers):
				// multiply each input by one.
				ones := func(x *Tensor) *Tensor {
					return Mul(x, Full(1, x.shape[len(x.shape)-1]))
				}
				run := func(heads bool) (*Tensor, [][]float32) {
					q, k, v := ones(xq), ones(xk), ones(xv)
					if xk == xq {
						k, v = q, q
					} else if xv == xk {
						v = k
					}
					if c.viewQ {
						q = Reshape(Reshape(q, c.b*c.lq, -1), c.b, c.lq, -1)
					}
					var out *Tensor
					if heads {
						out = AttentionHeads(q, qCol, k, kCol, v, vCol, h, w, mask, c.causal, 0)
					} else {
						split := func(x *Tensor, col int) *Tensor {
							x = Slice(x, 2, col, col+w)
							return Permute(Reshape(x, x.shape[0], x.shape[1], h, d), 0, 2, 1, 3)
						}
						o := Attention(split(q, qCol), split(k, kCol), split(v, vCol), mask, c.causal, 0)
						out = Reshape(Permute(o, 0, 2, 1, 3), c.b, c.lq, w)
					}
					loss := Sum(Mul(out, dOut), false)
					vals := append([]float32(nil), out.Data()...)
					BackwardRelease(loss, nil)
					var grads [][]float32
					for _, x := range []*Tensor{xq, xk, xv} {
						grads = append(grads, append([]float32(nil), x.Grad()...))
						x.ZeroGrad()
					}
					return FromSlice(vals, c.b, c.lq, w), grads
				}
				want, wantG := run(false)
				got, gotG := run(true)
				for i, x := range want.Data() {
					if math.Float32bits(got.Data()[i]) != math.Float32bits(x) {
						t.Fatalf("out[%d] = %v, split heads %v", i, got.Data()[i], x)
					}
				}
				for j := range wantG {
					if c.noGradK && j == 1 {
						continue
					}
					if len(gotG[j]) != len(wantG[j]) {
						t.Fatalf("input %d: gradient of %d values, want %d", j, len(gotG[j]), len(wantG[j]))
					}
					for i, x := range wantG[j] {
						if math.Float32bits(gotG[j][i]) != math.Float32bits(x) {
							t.Fatalf("input %d grad[%d] = %v, split heads %v", j, i, gotG[j][i], x)
						}
					}
				}
			})
		}
	}
}

func TestAttentionHeadsMisuse(t *testing.T) {
	q := New(2, 3, 8)
	for _, f := range []func(){
		func() { AttentionHeads(q, 4, q, 0, q, 0, 2, 8, nil, false, 0) },            // columns past the end
		func() { AttentionHeads(q, 0, q, 0, q, 0, 3, 8, nil, false, 0) },            // width not divisible
		func() { AttentionHeads(q, 0, New(3, 3, 8), 0, q, 0, 2, 8, nil, false, 0) }, // batch mismatch
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "AttentionHeads") {
					t.Errorf("panic %v, want a message naming AttentionHeads", r)
				}
			}()
			f()
		}()
	}
}
