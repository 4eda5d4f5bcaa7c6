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
	res := partialsSum(cl, xs, blocks, func(a *argBuf) *argBuf { return a.flag(true) }, "k_sum_partial")
	return cl.float64At(res)
}

// partialsSum launches kernel over every non-empty x (arguments: x, its
// length, extra's, then where its sumBlocks partial sums go), then adds
// all blocks partial sums in one block, in a fixed order, and returns the
// device address of that float64 total.
func partialsSum(cl *call, xs [][]float32, blocks int64, extra func(*argBuf) *argBuf, kernel string) uint64 {
	part := cl.scratch(int(8 * (blocks + 1)))
	res := at8(part, blocks)
	var off int64
	for _, x := range xs {
		n := int64(len(x))
		if n == 0 {
			continue
		}
		bl := sumBlocks(n)
		extra(cl.args().ptr(cl.in(x)).i64(n)).ptr(at8(part, off))
		cl.launch(kernel, dim3(int(bl), 1), block256, 0)
		off += bl
	}
	cl.args().ptr(part).i64(blocks).ptr(res)
	cl.launch("k_dsum", dim3(1, 1), block256, 0)
	return res
}

var _ tensor.NonFiniteCounter = (*Backend)(nil)

// CountNonFinite sets dst[0] to the number of ±Inf and NaN values in xs
// (tensor.NonFiniteCounter), on the device: one call, no wait.
func (b *Backend) CountNonFinite(dst []float32, xs [][]float32) {
	need("CountNonFinite", "dst", len(dst), 1)
	var blocks int64
	for _, x := range xs {
		blocks += sumBlocks(int64(len(x)))
	}
	cl := b.d.begin("CountNonFinite")
	defer cl.end()
	res := partialsSum(cl, xs, blocks, func(a *argBuf) *argBuf { return a }, "k_nonfinite_partial")
	cl.args().ptr(cl.out(dst[:1])).ptr(res).i32(1)
	cl.launch("k_ce_mean", dim3(1, 1), dim3(32, 1), 0)
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

// AdafactorStep applies one Adafactor update (package optim's Adafactor,
// whose doc gives the arithmetic) to one parameter of len(w) values, on
// the device: the second-moment averages, the update's RMS clipping and
// the learning rate never leave it. Factored (col not nil): w is batch
// matrices of rows × cols, row holds the batch·rows row averages and col
// the batch·cols column averages. Not factored: row is the elementwise
// average (len(w) values) and batch, rows, cols are ignored. m is the
// first moment, or nil without one (beta1 then unused). negWD is
// −lr·weight decay (0 for no decay).
func (b *Backend) AdafactorStep(w, g, m, row, col []float32, batch, rows, cols int,
	beta2t, eps1, clipThreshold, lr, negWD, beta1 float64) {
	n := len(w)
	const op = "AdafactorStep"
	need(op, "g", len(g), n)
	if m != nil {
		need(op, "m", len(m), n)
	}
	factored := col != nil
	if factored {
		if batch*rows*cols != n || batch <= 0 || rows <= 0 || cols <= 0 {
			panic(fmt.Sprintf("cuda: %s: %d values are not %d matrices of %d×%d", op, n, batch, rows, cols))
		}
		need(op, "row", len(row), batch*rows)
		need(op, "col", len(col), batch*cols)
	} else {
		need(op, "sq", len(row), n)
	}
	if n == 0 {
		return
	}
	bt, ombt, e := float32(beta2t), float32(1-beta2t), float32(eps1)
	cl := b.d.begin(op)
	defer cl.end()
	pw, pg := cl.inout(w), cl.in(g[:n])
	var pm uint64
	if m != nil {
		pm = cl.inout(m[:n])
	}
	var prow, pcol, rfac, cfac, sumsq uint64
	if factored {
		prow, pcol = cl.inout(row[:batch*rows]), cl.inout(col[:batch*cols])
		rfac, cfac = cl.scratch(4*batch*rows), cl.scratch(4*batch*cols)
		part := cl.scratch(8 * (batch*rows + 1))
		sumsq = at8(part, int64(batch*rows))
		cl.args().ptr(prow).ptr(pg).i32(cols).f32(bt).f32(ombt).f32(e)
		cl.launch("k_af_rows", dim3(batch*rows, 1), rowThreads(cols), 0)
		cl.args().ptr(pcol).ptr(cfac).ptr(pg).i32(rows).i32(cols).f32(bt).f32(ombt).f32(e)
		cl.launch("k_af_cols", dim3((cols+255)/256, batch), block256, 0)
		cl.args().ptr(rfac).ptr(prow).i32(rows)
		cl.launch("k_af_rfac", dim3(batch, 1), rowThreads(rows), 0)
		cl.args().ptr(part).ptr(pg).ptr(rfac).ptr(cfac).i32(rows).i32(cols)
		cl.launch("k_af_rowsq", dim3(batch*rows, 1), rowThreads(cols), 0)
		cl.args().ptr(part).i64(int64(batch * rows)).ptr(sumsq)
		cl.launch("k_dsum", dim3(1, 1), block256, 0)
	} else {
		prow = cl.inout(row[:n])
		blocks := cl.elems(int64(n))
		part := cl.scratch(8 * (int(blocks[0]) + 1))
		sumsq = at8(part, int64(blocks[0]))
		cl.args().ptr(prow).ptr(part).ptr(pg).i64(int64(n)).f32(bt).f32(ombt).f32(e)
		cl.launch("k_af_sq", blocks, block256, 0)
		cl.args().ptr(part).i64(int64(blocks[0])).ptr(sumsq)
		cl.launch("k_dsum", dim3(1, 1), block256, 0)
	}
	cl.args().ptr(pw).ptr(pm).ptr(pg).ptr(prow).ptr(rfac).ptr(cfac).ptr(sumsq).i64(int64(n)).i32(rows).i32(cols).
		f64(clipThreshold).f64(lr).f32(float32(negWD)).f32(float32(beta1)).f32(float32(1 - beta1))
	cl.launch("k_af_apply", cl.elems(int64(n)), block256, 0)
}
