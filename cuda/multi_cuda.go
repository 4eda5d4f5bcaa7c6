//go:build cuda && cgo

package cuda

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// Multi-tensor methods: the per-parameter work of an optimizer step as one
// backend call each (package optim uses them when the backend has them).
// A call over all parameters holds the device once and, with managed
// memory, waits for the GPU once, where one call per parameter would
// wait once per parameter.

// SumSquaresAll returns Σ over every x of Σ x², accumulated in float64:
// partial sums per block of every buffer, then one block adds them all in
// a fixed order, and the host reads one value.
func (b *Backend) SumSquaresAll(xs [][]float32) float64 {
	var blocks int64
	for _, x := range xs {
		blocks += sumBlocks(int64(len(x)))
	}
	if blocks == 0 {
		return 0
	}
	cl := b.d.begin("SumSquaresAll")
	defer cl.end()
	part := cl.scratch(int(8 * (blocks + 1)))
	res := at8(part, blocks)
	var off int64
	for _, x := range xs {
		n := int64(len(x))
		if n == 0 {
			continue
		}
		bl := sumBlocks(n)
		cl.args().ptr(cl.in(x)).i64(n).flag(true).ptr(at8(part, off))
		cl.launch("k_sum_partial", dim3(int(bl), 1), block256, 0)
		off += bl
	}
	cl.args().ptr(part).i64(blocks).ptr(res)
	cl.launch("k_dsum", dim3(1, 1), block256, 0)
	return cl.float64At(res)
}

func sumBlocks(n int64) int64 {
	if n == 0 {
		return 0
	}
	return min((n+255)/256, 1024)
}

// at8 is the address of the i-th float64 from p.
func at8(p uint64, i int64) uint64 { return p + uint64(8*i) }

// ScaleAll multiplies every x by s in place.
func (b *Backend) ScaleAll(s float32, xs [][]float32) {
	cl := b.d.begin("ScaleAll")
	defer cl.end()
	for _, x := range xs {
		if len(x) == 0 {
			continue
		}
		p := cl.inout(x)
		cl.args().f32(s).ptr(p).ptr(p).i64(int64(len(x)))
		cl.launch("k_scale", cl.elems(int64(len(x))), block256, 0)
	}
}

// FillAll sets every element of every x to v.
func (b *Backend) FillAll(xs [][]float32, v float32) {
	cl := b.d.begin("FillAll")
	defer cl.end()
	for _, x := range xs {
		if len(x) == 0 {
			continue
		}
		cl.args().ptr(cl.out(x)).i64(int64(len(x))).f32(v)
		cl.launch("k_fill", cl.elems(int64(len(x))), block256, 0)
	}
}

// AdamWAll applies one AdamW update (Backend.AdamW) to each parameter i:
// values ws[i], gradient gs[i], moments ms[i] and vs[i], constants
// steps[i].
func (b *Backend) AdamWAll(ws, gs, ms, vs [][]float32, steps []tensor.AdamWStep) {
	if len(gs) != len(ws) || len(ms) != len(ws) || len(vs) != len(ws) || len(steps) != len(ws) {
		panic(fmt.Sprintf("cuda: AdamWAll: %d values, %d gradients, %d and %d moments, %d steps", len(ws), len(gs), len(ms), len(vs), len(steps)))
	}
	for i, w := range ws {
		need("AdamWAll", "g", len(gs[i]), len(w))
		need("AdamWAll", "m", len(ms[i]), len(w))
		need("AdamWAll", "v", len(vs[i]), len(w))
	}
	cl := b.d.begin("AdamWAll")
	defer cl.end()
	for i, w := range ws {
		n := len(w)
		if n == 0 {
			continue
		}
		s := steps[i]
		pg := cl.in(gs[i][:n])
		pw, pm, pv := cl.inout(w), cl.inout(ms[i][:n]), cl.inout(vs[i][:n])
		cl.args().ptr(pw).ptr(pg).ptr(pm).ptr(pv).i64(int64(n)).
			f32(s.Beta1).f32(s.Beta2).f32(s.OneMinusBeta1).f32(s.OneMinusBeta2).f32(s.Decay).f32(s.NegStep).f32(s.Eps)
		cl.launch("k_adamw", cl.elems(int64(n)), block256, 0)
	}
}

// Clamp sets every x below lo to lo and above hi to hi, in place; NaN
// stays NaN.
func (b *Backend) Clamp(x []float32, lo, hi float32) {
	if len(x) == 0 {
		return
	}
	cl := b.d.begin("Clamp")
	defer cl.end()
	p := cl.inout(x)
	cl.args().ptr(p).i64(int64(len(x))).f32(lo).f32(hi)
	cl.launch("k_clamp", cl.elems(int64(len(x))), block256, 0)
}
