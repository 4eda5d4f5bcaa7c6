package tensor

import (
	"fmt"
	"math"

	"github.com/gococa/gococa/asm"
)

// cpuBackend runs every kernel on host memory with the asm package's
// kernels (SIMD where the CPU has it, their pure-Go references otherwise),
// split across GOMAXPROCS goroutines for the large ones.
type cpuBackend struct{}

func (cpuBackend) Name() string { return "cpu" }

func (cpuBackend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// chunk is the element grain of parallel elementwise loops.
const chunk = 1 << 12

// chunkCols is the column grain of parallel sums over rows.
const chunkCols = 256

// chunked runs fn over [0, n) in chunks, in parallel when n is large.
func chunked(n, cost int, fn func(lo, hi int)) {
	parallelFor((n+chunk-1)/chunk, cost*chunk, func(lo, hi int) {
		fn(lo*chunk, min(hi*chunk, n))
	})
}

func (cpuBackend) Map(f MapOp, dst, x []float32) {
	chunked(len(x), 16, func(lo, hi int) {
		d, s := dst[lo:hi], x[lo:hi]
		switch f {
		case OpExp:
			asm.Exp(d, s)
		case OpGELU:
			asm.Gelu(d, s)
		case OpQuickGELU:
			asm.QuickGelu(d, s)
		case OpGELUTanh:
			asm.GeluTanh(d, s)
		case OpSigmoid:
			asm.Sigmoid(d, s)
		case OpTanh:
			for i, v := range s {
				d[i] = float32(math.Tanh(float64(v)))
			}
		case OpNeg:
			for i, v := range s {
				d[i] = -v
			}
		default:
			panic(fmt.Sprintf("tensor: Map: unknown op %d", f))
		}
	})
}

func (cpuBackend) MapBackward(f MapOp, dx, x, y, dy []float32) {
	// The GELU variants need a temporary: one buffer for the whole call,
	// sliced per worker, so the pool sees the same request every step
	// whether or not the workers happen to overlap in time.
	var scratch []float32
	switch f {
	case OpGELU, OpQuickGELU, OpGELUTanh:
		scratch = pool.get(len(x))
		defer pool.put(scratch)
	}
	chunked(len(x), 24, func(lo, hi int) {
		dx, x, y, dy := dx[lo:hi], x[lo:hi], y[lo:hi], dy[lo:hi]
		switch f {
		case OpExp:
			for i := range dx {
				dx[i] += dy[i] * y[i]
			}
			return
		case OpSigmoid:
			for i := range dx {
				dx[i] += dy[i] * y[i] * (1 - y[i])
			}
			return
		case OpTanh:
			for i := range dx {
				dx[i] += dy[i] * (1 - y[i]*y[i])
			}
			return
		case OpNeg:
			for i := range dx {
				dx[i] -= dy[i]
			}
			return
		}
		tmp := scratch[lo:hi]
		switch f {
		case OpGELU:
			asm.GeluBackward(tmp, x, dy)
		case OpQuickGELU:
			asm.QuickGeluBackward(tmp, x, dy)
		case OpGELUTanh:
			asm.GeluTanhBackward(tmp, x, dy)
		default:
			panic(fmt.Sprintf("tensor: MapBackward: unknown op %d", f))
		}
		asm.Axpy(1, tmp, dx)
	})
}

// MapDerives is MapDeriver's: OpGELU only (asm.GeluDeriv).
func (cpuBackend) MapDerives(f MapOp) bool { return f == OpGELU }

// MapDeriv is MapDeriver's pass (OpGELU).
func (cpuBackend) MapDeriv(f MapOp, dst, deriv, x []float32) {
	chunked(len(x), 16, func(lo, hi int) {
		asm.GeluDeriv(dst[lo:hi], deriv[lo:hi], x[lo:hi])
	})
}

// MulDeriv is MapDeriver's backward: deriv·dy, as the GELU backward
// kernels form it (asm.GeluDeriv), added to dx through a temporary as
// MapBackward adds.
func (cpuBackend) MulDeriv(dx, deriv, dy []float32, accumulate bool) {
	if !accumulate {
		chunked(len(dx), 2, func(lo, hi int) {
			asm.Mul(dx[lo:hi], deriv[lo:hi], dy[lo:hi])
		})
		return
	}
	tmp := pool.get(len(dx))
	defer pool.put(tmp)
	chunked(len(dx), 3, func(lo, hi int) {
		asm.Mul(tmp[lo:hi], deriv[lo:hi], dy[lo:hi])
		asm.Axpy(1, tmp[lo:hi], dx[lo:hi])
	})
}

func (cpuBackend) MapBackwardStore(f MapOp, dx, x, y, dy []float32) {
	chunked(len(x), 24, func(lo, hi int) {
		dx, x, y, dy := dx[lo:hi], x[lo:hi], y[lo:hi], dy[lo:hi]
		switch f {
		case OpExp:
			asm.Mul(dx, dy, y)
		case OpSigmoid:
			for i := range dx {
				dx[i] = dy[i] * y[i] * (1 - y[i])
			}
		case OpTanh:
			for i := range dx {
				dx[i] = dy[i] * (1 - y[i]*y[i])
			}
		case OpNeg:
			for i := range dx {
				dx[i] = -dy[i]
			}
		case OpGELU:
			asm.GeluBackward(dx, x, dy)
		case OpQuickGELU:
			asm.QuickGeluBackward(dx, x, dy)
		case OpGELUTanh:
			asm.GeluTanhBackward(dx, x, dy)
		default:
			panic(fmt.Sprintf("tensor: MapBackwardStore: unknown op %d", f))
		}
	})
}

func (cpuBackend) Binary(op BinOp, shape []int, dst, a []float32, sa []int, b []float32, sb []int) {
	n := len(shape)
	if n == 0 {
		dst[0] = binScalar(op, a[0], b[0])
		return
	}
	inner := shape[n-1]
	outer := len(dst) / max(inner, 1)
	if inner == 0 || outer == 0 {
		return
	}
	if contiguousIn(shape, sa) && contiguousIn(shape, sb) {
		// Operands of the output's shape (a residual connection): one
		// flat row in chunks, not a call per row.
		chunked(len(dst), 1, func(lo, hi int) { binRow(op, dst[lo:hi], a, lo, 1, b, lo, 1) })
		return
	}
	parallelFor(outer, inner, func(lo, hi int) {
		w := newRowWalker(shape[:n-1], lo, sa, sb)
		for o := lo; o < hi; o++ {
			binRow(op, dst[o*inner:(o+1)*inner], a, w.ao, sa[n-1], b, w.bo, sb[n-1])
			w.next()
		}
	})
}

// rowWalker steps through the offsets (as offsets returns them) of
// consecutive outer indices, with an odometer instead of a division per
// index and axis.
type rowWalker struct {
	shape, sa, sb []int
	o             int    // the outer index
	idx           [8]int // its index on each axis (up to 8 axes; more: offsets)
	ao, bo        int
}

// newRowWalker starts at outer index o.
func newRowWalker(shape []int, o int, sa, sb []int) rowWalker {
	w := rowWalker{shape: shape, sa: sa, sb: sb, o: o}
	if len(shape) > len(w.idx) {
		w.ao, w.bo = offsets(shape, o, sa, sb)
		return w
	}
	for i := len(shape) - 1; i >= 0; i-- { // offsets, keeping the indices
		d := shape[i]
		w.idx[i] = o % d
		o /= d
		w.ao += w.idx[i] * sa[i]
		w.bo += w.idx[i] * sb[i]
	}
	return w
}

// next moves to the following outer index.
func (w *rowWalker) next() {
	w.o++
	n := len(w.shape)
	if n > len(w.idx) {
		w.ao, w.bo = offsets(w.shape, w.o, w.sa, w.sb)
		return
	}
	for i := n - 1; i >= 0; i-- {
		w.ao += w.sa[i]
		w.bo += w.sb[i]
		if w.idx[i]++; w.idx[i] < w.shape[i] || i == 0 {
			return // (i == 0: past the last index; nothing is read there)
		}
		w.ao -= w.shape[i] * w.sa[i]
		w.bo -= w.shape[i] * w.sb[i]
		w.idx[i] = 0
	}
}

// offsets returns the element offsets of a and b for outer index o over
// shape (the axes before the last).
func offsets(shape []int, o int, sa, sb []int) (ao, bo int) {
	for i := len(shape) - 1; i >= 0; i-- {
		d := shape[i]
		c := o % d
		o /= d
		ao += c * sa[i]
		bo += c * sb[i]
	}
	return
}

func binScalar(op BinOp, x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	}
	panic(fmt.Sprintf("tensor: Binary: unknown op %d", op))
}

func binRow(op BinOp, dst, a []float32, ao, as int, b []float32, bo, bs int) {
	n := len(dst)
	switch {
	case as == 1 && bs == 1 && op == OpAdd:
		asm.Add(dst, a[ao:ao+n], b[bo:bo+n])
	case as == 1 && bs == 1 && op == OpMul:
		asm.Mul(dst, a[ao:ao+n], b[bo:bo+n])
	case as == 1 && bs == 1:
		a, b := a[ao:ao+n], b[bo:bo+n]
		if op == OpSub {
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		} else {
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		}
	default:
		for i := range dst {
			dst[i] = binScalar(op, a[ao+i*as], b[bo+i*bs])
		}
	}
}

func (cpuBackend) Strided(shape []int, dst []float32, sd []int, src []float32, ss []int, accumulate bool) {
	n := len(shape)
	if n == 0 {
		if accumulate {
			dst[0] += src[0]
		} else {
			dst[0] = src[0]
		}
		return
	}
	total := numel(shape)
	inner := shape[n-1]
	if total == 0 {
		return
	}
	outer := total / inner
	di, si := sd[n-1], ss[n-1]
	rowFn := func(do, so int) {
		switch {
		case accumulate && di == 0:
			if si == 1 {
				dst[do] += asm.Sum(src[so : so+inner])
				return
			}
			var s float32
			for i := 0; i < inner; i++ {
				s += src[so+i*si]
			}
			dst[do] += s
		case accumulate && di == 1 && si == 1:
			asm.Axpy(1, src[so:so+inner], dst[do:do+inner])
		case accumulate:
			for i := 0; i < inner; i++ {
				dst[do+i*di] += src[so+i*si]
			}
		case di == 1 && si == 1:
			copy(dst[do:do+inner], src[so:so+inner])
		default:
			for i := 0; i < inner; i++ {
				dst[do+i*di] = src[so+i*si]
			}
		}
	}
	// A sum of evenly spaced rows into one (a bias gradient): asm.AddRows,
	// the same sums as the Axpy per row below, with the destination held
	// in registers; workers take disjoint column blocks of wide rows.
	if ld, ok := rowsIntoOne(shape, sd, ss); ok && accumulate && di == 1 && si == 1 {
		if inner < 2*chunkCols {
			asm.AddRows(dst[:inner], src, outer, ld)
			return
		}
		columnBlocks(inner, outer, func(c0, c1 int) { asm.AddRows(dst[c0:c1], src[c0:], outer, ld) })
		return
	}
	// Other sums over outer axes of rows contiguous in both (dst keeps
	// some outer axes, or src's rows are not evenly spaced): workers take
	// disjoint column blocks, each summing over all rows.
	if accumulate && di == 1 && si == 1 && inner >= 2*chunkCols && hasZero(sd) {
		columnBlocks(inner, outer, func(c0, c1 int) {
			w := newRowWalker(shape[:n-1], 0, sd, ss)
			for o := 0; o < outer; o++ {
				asm.Axpy(1, src[w.bo+c0:w.bo+c1], dst[w.ao+c0:w.ao+c1])
				w.next()
			}
		})
		return
	}
	// Parallel only when no two outer rows write the same destination.
	if !accumulate || !hasZero(sd) {
		parallelFor(outer, inner, func(lo, hi int) {
			w := newRowWalker(shape[:n-1], lo, sd, ss)
			for o := lo; o < hi; o++ {
				rowFn(w.ao, w.bo)
				w.next()
			}
		})
		return
	}
	w := newRowWalker(shape[:n-1], 0, sd, ss)
	for o := 0; o < outer; o++ {
		rowFn(w.ao, w.bo)
		w.next()
	}
}

// columnBlocks runs fn on blocks [c0, c1) of inner columns, chunkCols at a
// time, split between goroutines; outer rows pass through each.
func columnBlocks(inner, outer int, fn func(c0, c1 int)) {
	parallelFor((inner+chunkCols-1)/chunkCols, outer*chunkCols, func(lo, hi int) {
		fn(lo*chunkCols, min(hi*chunkCols, inner))
	})
}

// contiguousIn reports whether strides s lay shape out row-major without
// gaps (the strides of axes of length 1 do not matter).
func contiguousIn(shape, s []int) bool {
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && s[i] != acc {
			return false
		}
		acc *= shape[i]
	}
	return true
}

// rowsIntoOne reports whether a strided copy of shape (at least two axes)
// writes every row of src into the same row of dst (every outer stride of
// dst sd is 0) and src's rows lie ld apart (its outer axes collapse into
// one of stride ld), and returns ld.
func rowsIntoOne(shape, sd, ss []int) (ld int, ok bool) {
	n := len(shape)
	if n < 2 {
		return 0, false
	}
	for i := 0; i < n-1; i++ {
		if sd[i] != 0 {
			return 0, false
		}
	}
	for i := 0; i < n-2; i++ {
		if shape[i] > 1 && ss[i] != ss[i+1]*shape[i+1] {
			return 0, false
		}
	}
	return ss[n-2], true
}

func hasZero(s []int) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

func (cpuBackend) Axpy(alpha float32, x, y []float32) {
	chunked(len(x), 2, func(lo, hi int) { asm.Axpy(alpha, x[lo:hi], y[lo:hi]) })
}

func (cpuBackend) Scale(alpha float32, dst, x []float32) {
	same := len(x) > 0 && &dst[0] == &x[0] // in place: no copy
	chunked(len(x), 1, func(lo, hi int) {
		if !same {
			copy(dst[lo:hi], x[lo:hi])
		}
		asm.Scale(alpha, dst[lo:hi])
	})
}

func (cpuBackend) Sum(x []float32) float64 {
	var s float64
	for lo := 0; lo < len(x); lo += chunk {
		s += float64(asm.Sum(x[lo:min(lo+chunk, len(x))]))
	}
	return s
}

func (cpuBackend) Softmax(dst, x []float32, rows, n int, log bool) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if log {
				asm.LogSoftmaxRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n])
			} else {
				asm.SoftmaxRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n])
			}
		}
	})
}

func (cpuBackend) SoftmaxBackward(dx, y, dy []float32, rows, n int, log bool) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		tmp := pool.get(n)
		for r := lo; r < hi; r++ {
			y, dy, dx := y[r*n:(r+1)*n], dy[r*n:(r+1)*n], dx[r*n:(r+1)*n]
			if log {
				asm.LogSoftmaxRowBackward(tmp, y, dy)
			} else {
				asm.SoftmaxRowBackward(tmp, y, dy)
			}
			asm.Axpy(1, tmp, dx)
		}
		pool.put(tmp)
	})
}

func (cpuBackend) LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) {
	parallelFor(rows, 8*n, func(lo, hi int) {
		asm.LayerNormRows(y[lo*n:hi*n], mean[lo:hi], rstd[lo:hi], x[lo*n:hi*n], gamma, beta, hi-lo, n, eps)
	})
}

func (cpuBackend) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int) {
	// dgamma/dbeta are reductions over rows: each worker sums into its own
	// scratch, then the partial sums are added in a fixed order.
	parts := splitCount(rows, 8*n)
	scratch := pool.getZero(3 * n * parts)
	parallelChunks(rows, parts, func(w, lo, hi int) {
		s := scratch[3*n*w : 3*n*(w+1)]
		dg, db, tmp := s[:n], s[n:2*n], s[2*n:]
		var d []float32
		if dx != nil {
			d = dx[lo*n : hi*n]
		}
		asm.LayerNormRowsBackward(d, dg, db, dy[lo*n:hi*n], x[lo*n:hi*n], gamma, mean[lo:hi], rstd[lo:hi], hi-lo, n, tmp)
	})
	for w := 0; w < parts; w++ {
		s := scratch[3*n*w : 3*n*(w+1)]
		if dgamma != nil {
			asm.Axpy(1, s[:n], dgamma)
		}
		if dbeta != nil {
			asm.Axpy(1, s[n:2*n], dbeta)
		}
	}
	pool.put(scratch)
}

func (cpuBackend) Normalize(y, norms, x []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		x, y := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		nrm := math.Sqrt(s)
		norms[r] = float32(nrm)
		d := float32(math.Max(nrm, float64(eps)))
		for i, v := range x {
			y[i] = v / d
		}
	}
}

func (cpuBackend) NormalizeBackward(dx, dy, y, norms []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		dy, y, dx := dy[r*n:(r+1)*n], y[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		nrm := norms[r]
		if nrm <= eps { // y = x/eps: linear
			for i := range dx {
				dx[i] += dy[i] / eps
			}
			continue
		}
		var d float64
		for i := range y {
			d += float64(y[i]) * float64(dy[i])
		}
		for i := range dx {
			dx[i] += (dy[i] - y[i]*float32(d)) / nrm
		}
	}
}

func (cpuBackend) Attention(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	asm.AttentionForward(out, lse, q, k, v, b, h, lq, lk, d, scale, causal, mask, lq*lk)
}

func (cpuBackend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	tq, tk, tv := pool.get(len(dq)), pool.get(len(dk)), pool.get(len(dv))
	asm.AttentionBackward(tq, tk, tv, dout, q, k, v, out, lse, b, h, lq, lk, d, scale, causal, mask, lq*lk)
	cpuBackend{}.Axpy(1, tq, dq)
	cpuBackend{}.Axpy(1, tk, dk)
	cpuBackend{}.Axpy(1, tv, dv)
	pool.put(tq)
	pool.put(tk)
	pool.put(tv)
}

// operand is the asm view of a strided attention operand.
func operand(x []float32, l AttnLayout) ([]float32, asm.AttnStrides) {
	st := asm.AttnStrides{Batch: l.Batch, Head: l.Head, Row: l.Row}
	if l.Off >= len(x) {
		return nil, st
	}
	return x[l.Off:], st
}

func attnOperands(q, k, v, out []float32, a *AttnArgs) asm.AttnOperands {
	var o asm.AttnOperands
	o.Q, o.QS = operand(q, a.QL)
	o.K, o.KS = operand(k, a.KL)
	o.V, o.VS = operand(v, a.VL)
	o.Out, o.OS = operand(out, a.OutL)
	return o
}

func (cpuBackend) AttentionStrided(a *AttnArgs) {
	asm.AttentionForwardStrided(attnOperands(a.Q, a.K, a.V, a.Out, a), a.LSE, a.B, a.H, a.Lq, a.Lk, a.D, a.Scale, a.Causal, a.Mask, a.Lq*a.Lk)
}

func (cpuBackend) AttentionStridedBackward(a *AttnArgs, dq, dk, dv, dout []float32) {
	asm.AttentionBackwardStrided(attnOperands(a.Q, a.K, a.V, a.Out, a), attnOperands(dq, dk, dv, dout, a),
		a.LSE, a.B, a.H, a.Lq, a.Lk, a.D, a.Scale, a.Causal, a.Mask, a.Lq*a.Lk)
}

func (cpuBackend) Gather(dst, table []float32, ids []int32, dim int) {
	for i, id := range ids {
		copy(dst[i*dim:(i+1)*dim], table[int(id)*dim:int(id+1)*dim])
	}
}

func (cpuBackend) ScatterAdd(dtable, dy []float32, ids []int32, dim int) {
	for i, id := range ids {
		asm.Axpy(1, dy[i*dim:(i+1)*dim], dtable[int(id)*dim:int(id+1)*dim])
	}
}

func (cpuBackend) CrossEntropy(lse, logits []float32, targets []int32, rows, n int, ignore int32) (float64, int) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			lse[r] = asm.LogSumExpRow(logits[r*n : (r+1)*n])
		}
	})
	var sum float64
	count := 0
	for r, t := range targets {
		if t == ignore {
			continue
		}
		sum += float64(lse[r]) - float64(logits[r*n+int(t)])
		count++
	}
	return sum, count
}

func (cpuBackend) CrossEntropyBackward(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32) {
	crossEntropyBackward(dlogits, logits, lse, targets, rows, n, ignore, g, false)
}

func (cpuBackend) CrossEntropyBackwardStore(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32) {
	crossEntropyBackward(dlogits, logits, lse, targets, rows, n, ignore, g, true)
}

// crossEntropyBackward adds (or, with store, stores) g·(softmax − onehot)
// into each row of dlogits; ignored rows get nothing (zeros when storing).
func crossEntropyBackward(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32, store bool) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		var tmp []float32
		if !store {
			tmp = pool.get(n)
			defer pool.put(tmp)
		}
		for r := lo; r < hi; r++ {
			x, d := logits[r*n:(r+1)*n], dlogits[r*n:(r+1)*n]
			t := targets[r]
			if t == ignore {
				if store {
					clear(d)
				}
				continue
			}
			if store {
				asm.ExpShiftRow(d, x, lse[r]) // softmax
				asm.Scale(g, d)
			} else {
				asm.ExpShiftRow(tmp, x, lse[r])
				asm.Axpy(g, tmp, d)
			}
			d[t] -= g
		}
	})
}

// splitCount picks how many workers a row loop of the given per-row cost
// should use.
func splitCount(rows, cost int) int {
	p := maxProcs()
	if rows*cost < 1<<16 || p < 2 {
		return 1
	}
	return min(p, rows)
}

// parallelChunks runs fn(w, lo, hi) for parts contiguous chunks of [0, n),
// one after another on the caller while asm.Workers says the process has
// one goroutine to spare (contended, or goroutines side by side): the
// chunks, and so the results, are the same either way.
func parallelChunks(n, parts int, fn func(w, lo, hi int)) {
	if parts <= 1 {
		fn(0, 0, n)
		return
	}
	if asm.Workers() <= 1 {
		for w := range parts {
			fn(w, w*n/parts, (w+1)*n/parts)
		}
		return
	}
	asm.Parallel(parts, func(w int) {
		fn(w, w*n/parts, (w+1)*n/parts)
	})
}

func (cpuBackend) WidenBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	chunked(len(src), 1, func(lo, hi int) {
		for i, v := range src[lo:hi] {
			dst[lo+i] = widen(v)
		}
	})
}

// maxBF16Workers caps the goroutines of a bfloat16 product: it streams
// its weights once, and a few cores saturate the memory bandwidth.
const maxBF16Workers = 8

// GemmBF16 splits the outputs between goroutines at multiples of 16 (as
// many as asm.Workers says the process can use now), each
// streaming its own rows of the weights (asm.GemvBF16Strided, whose
// results do not depend on the split; the multiples of 16 keep the
// vector paths of elementwise kernels run afterwards on a worker's share
// the same whatever the split).
func (cpuBackend) GemmBF16(y []float32, ldy int, x []float32, w []uint16, bias []float32, m, n, k int) {
	splitOutputs(m, n, k, func(lo, hi int) {
		var b []float32
		if bias != nil {
			b = bias[lo:hi]
		}
		asm.GemvBF16Strided(y[lo:], ldy, x, w[lo*k:hi*k], b, m, hi-lo, k)
	})
}

// splitOutputs runs fn on blocks [lo, hi) of a product's n outputs, one
// per goroutine (as many as asm.Workers says the process can use now, at
// most maxBF16Workers), at multiples of 16; one block when the product is
// small.
func splitOutputs(m, n, k int, fn func(lo, hi int)) {
	p := min(asm.Workers(), maxBF16Workers, (n+15)/16)
	if m*n*max(k, 1) < 1<<16 {
		p = 1
	}
	asm.Parallel(max(p, 1), func(t int) {
		if lo, hi := blockStart(t, p, n), blockStart(t+1, p, n); lo < hi {
			fn(lo, hi)
		}
	})
}

// blockStart is where block i of p starts among n outputs (n for i ≥ p).
func blockStart(i, p, n int) int {
	if i >= p {
		return n
	}
	return n * i / p &^ 15
}

// GemmInt8 splits the outputs between goroutines as GemmBF16 does, each
// streaming its own rows of the weights (asm.GemvInt8Strided, whose
// results do not depend on the split).
func (cpuBackend) GemmInt8(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, m, n, k int) {
	splitOutputs(m, n, k, func(lo, hi int) {
		var b []float32
		if bias != nil {
			b = bias[lo:hi]
		}
		asm.GemvInt8Strided(y[lo:], ldy, x, w[lo*k:hi*k], scale[lo:hi], b, m, hi-lo, k)
	})
}

// AttendKV runs each (row, head) of a decoding step's attention on one
// goroutine, with the arithmetic of a one-query attention: the scores
// (dot products, or for transposed keys axpys over the channels), their
// softmax, then the weighted sum of the values (axpys, or dot products for
// transposed values). Rows and heads are split between goroutines when the
// work is large enough (a few captions or beams: one caption's step is a
// few tens of microseconds, less than waking a worker costs on a busy
// machine); the results do not depend on the split.
func (cpuBackend) AttendKV(a *KVArgs) {
	n, cost := a.Rows*a.Heads, 4*a.N*a.D
	if n*cost < 1<<20 {
		cost = 0 // one goroutine
	}
	parallelFor(n, cost, func(lo, hi int) {
		s := pool.get(max(a.N, 1))[:a.N]
		for i := lo; i < hi; i++ {
			r, h := i/a.Heads, i%a.Heads
			q := a.Q[r*a.QRow+h*a.D:][:a.D]
			out := a.Out[r*a.OutRow+h*a.D:][:a.D]
			k := a.KV[r*a.Row+h*a.Head:]
			v := k[a.Values:]
			switch {
			case a.Elem == 1: // a key per row of Key values
				for j := range s {
					s[j] = a.Scale * asm.Dot(q, k[j*a.Key:j*a.Key+a.D])
				}
				asm.SoftmaxRow(s, s)
				clear(out)
				for j, p := range s {
					asm.Axpy(p, v[j*a.Key:j*a.Key+a.D], out)
				}
			case a.Key == 1: // transposed: channel c's N values at c·Elem
				clear(s)
				for c := range a.D {
					asm.Axpy(a.Scale*q[c], k[c*a.Elem:c*a.Elem+a.N], s)
				}
				asm.SoftmaxRow(s, s)
				for c := range out {
					out[c] = asm.Dot(s, v[c*a.Elem:c*a.Elem+a.N])
				}
			default:
				for j := range s {
					var d float32
					for c := range a.D {
						d += q[c] * k[j*a.Key+c*a.Elem]
					}
					s[j] = a.Scale * d
				}
				asm.SoftmaxRow(s, s)
				for c := range out {
					var o float32
					for j, p := range s {
						o += p * v[j*a.Key+c*a.Elem]
					}
					out[c] = o
				}
			}
		}
		pool.put(s[:cap(s)])
	})
}
