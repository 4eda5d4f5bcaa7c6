//go:build cuda && cgo

package cuda

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/gococa/gococa/tensor"
)

// The tensor.Backend methods. Each checks its operands' lengths (a kernel
// reading past a buffer corrupts memory silently, so misuse panics here,
// as the CPU backend's bounds checks do), runs its kernels and returns
// when they are done.

func need(op, what string, have, want int) {
	if have < want {
		panic(fmt.Sprintf("cuda: %s: %s has %d values, want at least %d", op, what, have, want))
	}
}

// ---- GEMM (cuBLAS) ----

// Gemm runs the row-major product as cuBLAS's column-major one: row-major
// C (m×n) is column-major Cᵀ, and Cᵀ = op(B)ᵀ·op(A)ᵀ, so B comes first
// with its transpose flag and n, m swap.
func (b *Backend) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, bm []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	span := func(rows, cols, ld, stride int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (batch-1)*stride + (rows-1)*ld + cols
	}
	if lda < ac || ldb < bc || ldc < n || len(a) < span(ar, ac, lda, strideA) ||
		len(bm) < span(br, bc, ldb, strideB) || len(c) < span(m, n, ldc, strideC) {
		panic(fmt.Sprintf("cuda: Gemm: operands too short for m=%d n=%d k=%d batch=%d (len a=%d lda=%d, b=%d ldb=%d, c=%d ldc=%d)",
			m, n, k, batch, len(a), lda, len(bm), ldb, len(c), ldc))
	}
	cl := b.d.begin("Gemm")
	defer cl.end()
	pa, pb := cl.in(a[:span(ar, ac, lda, strideA)]), cl.in(bm[:span(br, bc, ldb, strideB)])
	pc := cl.inout(c[:span(m, n, ldc, strideC)])
	// A shared output (stride 0) is updated by one product after another.
	runs, per := 1, batch
	if strideC == 0 && batch > 1 {
		runs, per = batch, 1
	}
	for r := range runs {
		oa, ob := int64(r*strideA), int64(r*strideB)
		if k == 0 { // C = beta·C; cuBLAS rejects the zero leading dimensions this may bring
			cl.args().ptr(pc).i32(m).i32(n).i32(ldc).i64(int64(strideC)).i32(per).f32(beta)
			cl.launch("k_gemm_beta", cl.elems(int64(per*m*n)), block256, 0)
			continue
		}
		opA, opB := cublasOpN, cublasOpN
		if transA {
			opA = cublasOpT
		}
		if transB {
			opB = cublasOpT
		}
		cl.check(cublasGemm(b.d.blas, opB, opA, n, m, k, alpha, at(pb, ob), ldb, int64(strideB),
			at(pa, oa), lda, int64(strideA), beta, pc, ldc, int64(strideC), per, b.compute))
	}
}

// ---- elementwise ----

func checkMapOp(op string, f tensor.MapOp) {
	if f < tensor.OpExp || f > tensor.OpNeg {
		panic(fmt.Sprintf("cuda: %s: unknown op %d", op, f))
	}
}

func (b *Backend) Map(f tensor.MapOp, dst, x []float32) {
	checkMapOp("Map", f)
	n := len(x)
	need("Map", "dst", len(dst), n)
	if n == 0 {
		return
	}
	cl := b.d.begin("Map")
	defer cl.end()
	px := cl.in(x)
	pd := cl.out(dst[:n])
	cl.args().i32(int(f)).ptr(pd).ptr(px).i64(int64(n))
	cl.launch("k_map", cl.elems(int64(n)), block256, 0)
}

func (b *Backend) MapBackward(f tensor.MapOp, dx, x, y, dy []float32) {
	b.mapBackward("MapBackward", f, dx, x, y, dy, false)
}

// MapBackwardStore stores dx = dy·f'(x) instead of adding it
// (tensor.MapBackwardStorer): a fresh gradient buffer needs no zeroing.
func (b *Backend) MapBackwardStore(f tensor.MapOp, dx, x, y, dy []float32) {
	b.mapBackward("MapBackwardStore", f, dx, x, y, dy, true)
}

func (b *Backend) mapBackward(op string, f tensor.MapOp, dx, x, y, dy []float32, store bool) {
	checkMapOp(op, f)
	n := len(x)
	need(op, "dx", len(dx), n)
	need(op, "y", len(y), n)
	need(op, "dy", len(dy), n)
	if n == 0 {
		return
	}
	cl := b.d.begin(op)
	defer cl.end()
	px, py, pdy := cl.in(x), cl.in(y[:n]), cl.in(dy[:n])
	var pdx uint64
	if store {
		pdx = cl.out(dx[:n])
	} else {
		pdx = cl.inout(dx[:n])
	}
	cl.args().i32(int(f)).ptr(pdx).ptr(px).ptr(py).ptr(pdy).i64(int64(n)).flag(store)
	cl.launch("k_map_backward", cl.elems(int64(n)), block256, 0)
}

// extent returns how many values a walk over shape with strides st reads
// (1 + the largest offset), 0 for an empty shape.
func extent(shape, st []int) int {
	e := 0
	for i, d := range shape {
		if d == 0 {
			return 0
		}
		e += (d - 1) * st[i]
	}
	return e + 1
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

func checkStrides(op string, shape []int, st ...[]int) {
	for _, s := range st {
		if len(s) != len(shape) {
			panic(fmt.Sprintf("cuda: %s: strides %v for shape %v", op, s, shape))
		}
		for _, v := range s {
			if v < 0 {
				panic(fmt.Sprintf("cuda: %s: negative stride in %v", op, s))
			}
		}
	}
}

func (b *Backend) Binary(op tensor.BinOp, shape []int, dst, a []float32, sa []int, bm []float32, sb []int) {
	if op < tensor.OpAdd || op > tensor.OpDiv {
		panic(fmt.Sprintf("cuda: Binary: unknown op %d", op))
	}
	checkStrides("Binary", shape, sa, sb)
	n := numel(shape)
	if n == 0 {
		return
	}
	need("Binary", "dst", len(dst), n)
	need("Binary", "a", len(a), extent(shape, sa))
	need("Binary", "b", len(bm), extent(shape, sb))
	cl := b.d.begin("Binary")
	defer cl.end()
	pa, pb := cl.in(a[:extent(shape, sa)]), cl.in(bm[:extent(shape, sb)])
	pd := cl.out(dst[:n])
	w := newWalk(shape, contiguous(shape), sa, sb).collapse()
	w.split(func(in *walk, off [3]int64) {
		cnt := in.numel()
		cl.args().i32(int(op)).ptr(at(pd, off[0])).ptr(at(pa, off[1])).ptr(at(pb, off[2])).dims(in).i64(cnt)
		cl.launch("k_binary", cl.elems(cnt), block256, 0)
	})
}

// Strided is a copy or accumulation when no two elements of the walk
// share a destination; with accumulate and destination strides 0 on some
// axes it is a reduction over those axes, computed without atomics: the
// kept axes index the outputs, the reduced ones the terms of each sum.
// Without accumulate, a destination that several elements share gets the
// last of them, as a serial loop would leave it.
func (b *Backend) Strided(shape []int, dst []float32, sd []int, src []float32, ss []int, accumulate bool) {
	checkStrides("Strided", shape, sd, ss)
	n := numel(shape)
	if n == 0 {
		return
	}
	ed, es := extent(shape, sd), extent(shape, ss)
	need("Strided", "dst", len(dst), ed)
	need("Strided", "src", len(src), es)
	cl := b.d.begin("Strided")
	defer cl.end()
	ps := cl.in(src[:es])
	pd := cl.inout(dst[:ed])
	// Split the axes into kept ones (sd ≠ 0) and reduced ones.
	var ks, kd, kss, rs, rss []int
	srcOff := 0
	for i, d := range shape {
		switch {
		case d == 1:
		case sd[i] != 0:
			ks, kd, kss = append(ks, d), append(kd, sd[i]), append(kss, ss[i])
		case accumulate:
			rs, rss = append(rs, d), append(rss, ss[i])
		default: // copy to a shared destination: the last element wins
			srcOff += (d - 1) * ss[i]
		}
	}
	kw := newWalk(ks, kd, kss).collapse()
	if len(rs) == 0 {
		kw.split(func(in *walk, off [3]int64) {
			cnt := in.numel()
			cl.args().ptr(at(pd, off[0])).ptr(at(ps, off[1]+int64(srcOff))).dims(in).i64(cnt).flag(accumulate)
			cl.launch("k_strided", cl.elems(cnt), block256, 0)
		})
		return
	}
	rw := newWalk(rs, make([]int, len(rs)), rss).collapse()
	if len(rw.shape) > maxDims {
		// Peel leading reduced axes: each part adds its sums in turn.
		lead := len(rw.shape) - maxDims
		outer := walk{shape: rw.shape[:lead]}
		inner := walk{shape: rw.shape[lead:]}
		for k := range 3 {
			outer.st[k], inner.st[k] = rw.st[k][:lead], rw.st[k][lead:]
		}
		no := outer.numel()
		for o := int64(0); o < no; o++ {
			var off int64
			r := o
			for i := lead - 1; i >= 0; i-- {
				off += (r % outer.shape[i]) * outer.st[1][i]
				r /= outer.shape[i]
			}
			kw.split(func(in *walk, koff [3]int64) {
				b.reduce(cl, at(pd, koff[0]), at(ps, koff[1]+off), in, &inner)
			})
		}
		return
	}
	kw.split(func(in *walk, off [3]int64) {
		b.reduce(cl, at(pd, off[0]), at(ps, off[1]), in, &rw)
	})
}

// reduce adds to dst[K.s0] the sums over R of src[K.s1 + R.s1].
func (b *Backend) reduce(cl *call, dst, src uint64, K, R *walk) {
	nK, nR := K.numel(), R.numel()
	// Terms contiguous in memory (R's innermost stride 1, K's not): one
	// block per output reads them coalesced. Otherwise 32 outputs per
	// block, adjacent outputs in adjacent threads.
	rows := len(R.shape) > 0 && R.st[1][len(R.shape)-1] == 1 &&
		!(len(K.shape) > 0 && K.st[1][len(K.shape)-1] == 1)
	blocksX := (nK + 31) / 32
	if rows {
		blocksX = nK
	}
	// Enough blocks to fill the GPU: split each sum into chunks of at
	// least 256 terms, added up in chunk order by k_reduce_finish.
	target := int64(4 * b.d.sms)
	chunks := min(max((target+blocksX-1)/blocksX, 1), max((nR+255)/256, 1), 65535)
	chunk := (nR + chunks - 1) / chunks
	chunks = (nR + chunk - 1) / chunk
	var partial uint64
	if chunks > 1 {
		partial = cl.scratch(int(4 * chunks * nK))
	}
	cl.args().ptr(dst).ptr(src).dims(K).dims(R).i64(nK).i64(nR).i64(chunk).ptr(partial)
	if rows {
		cl.launch("k_reduce_rows", dim3(int(nK), int(chunks)), block256, 0)
	} else {
		cl.launch("k_reduce_cols", dim3(int(blocksX), int(chunks)), dim3(32, 8), 0)
	}
	if chunks > 1 {
		cl.args().ptr(dst).ptr(partial).dims(K).i64(nK).i32(int(chunks))
		cl.launch("k_reduce_finish", cl.elems(nK), block256, 0)
	}
}

func (b *Backend) Axpy(alpha float32, x, y []float32) {
	n := len(x)
	need("Axpy", "y", len(y), n)
	if n == 0 {
		return
	}
	cl := b.d.begin("Axpy")
	defer cl.end()
	px := cl.in(x)
	py := cl.inout(y[:n])
	cl.args().f32(alpha).ptr(px).ptr(py).i64(int64(n))
	cl.launch("k_axpy", cl.elems(int64(n)), block256, 0)
}

func (b *Backend) Scale(alpha float32, dst, x []float32) {
	n := len(x)
	need("Scale", "dst", len(dst), n)
	if n == 0 {
		return
	}
	cl := b.d.begin("Scale")
	defer cl.end()
	px := cl.in(x)
	pd := cl.out(dst[:n])
	cl.args().f32(alpha).ptr(pd).ptr(px).i64(int64(n))
	cl.launch("k_scale", cl.elems(int64(n)), block256, 0)
}

func (b *Backend) Fill(dst []float32, v float32) {
	if len(dst) == 0 {
		return
	}
	cl := b.d.begin("Fill")
	defer cl.end()
	pd := cl.out(dst)
	cl.args().ptr(pd).i64(int64(len(dst))).f32(v)
	cl.launch("k_fill", cl.elems(int64(len(dst))), block256, 0)
}

var _ tensor.BF16Widener = (*Backend)(nil)

// WidenBF16 widens bfloat16 values (weights stored in bfloat16) on the
// device: tensor's bfloat16 products then run as a widening and a cuBLAS
// GEMM (tensor.BF16Widener).
func (b *Backend) WidenBF16(dst []float32, src []uint16) {
	n := len(src)
	need("WidenBF16", "dst", len(dst), n)
	if n == 0 {
		return
	}
	cl := b.d.begin("WidenBF16")
	defer cl.end()
	ps := cl.stage(unsafe.Pointer(unsafe.SliceData(src)), 2*n, false, false)
	pd := cl.out(dst[:n])
	cl.args().ptr(pd).ptr(ps).i64(int64(n))
	cl.launch("k_widen_bf16", cl.elems(int64(n)), block256, 0)
}

func (b *Backend) Sum(x []float32) float64 { return b.sum("Sum", x, false) }

func (b *Backend) SumSquares(x []float32) float64 { return b.sum("SumSquares", x, true) }

// sum adds x (or its squares) in float64: partial sums per block, then one
// block adds those; a fixed grid makes the result reproducible.
func (b *Backend) sum(op string, x []float32, squares bool) float64 {
	n := int64(len(x))
	if n == 0 {
		return 0
	}
	cl := b.d.begin(op)
	defer cl.end()
	px := cl.in(x)
	blocks := min((n+255)/256, 1024)
	part := cl.scratch(int(8 * (blocks + 1)))
	res := part + uint64(8*blocks)
	cl.args().ptr(px).i64(n).flag(squares).ptr(part)
	cl.launch("k_sum_partial", dim3(int(blocks), 1), block256, 0)
	cl.args().ptr(part).i64(blocks).ptr(res)
	cl.launch("k_dsum", dim3(1, 1), block256, 0)
	return cl.float64At(res)
}

// float64At copies one float64 from the device (after the work queued
// before it).
func (c *call) float64At(p uint64) float64 {
	v := new(float64)
	c.check(cuMemcpyDtoH(unsafe.Pointer(v), p, 8, c.d.stream))
	return *v
}

// ---- rows ----

func checkRows(op string, rows, n int, bufs ...[]float32) {
	if rows < 0 || n < 0 {
		panic(fmt.Sprintf("cuda: %s: rows %d, n %d", op, rows, n))
	}
	for i, x := range bufs {
		need(op, fmt.Sprintf("operand %d", i), len(x), rows*n)
	}
}

func (b *Backend) Softmax(dst, x []float32, rows, n int, log bool) {
	checkRows("Softmax", rows, n, dst, x)
	if rows*n == 0 {
		return
	}
	cl := b.d.begin("Softmax")
	defer cl.end()
	px := cl.in(x[:rows*n])
	pd := cl.out(dst[:rows*n])
	cl.args().ptr(pd).ptr(px).i32(n).flag(log)
	cl.launch("k_softmax", dim3(rows, 1), rowThreads(n), 0)
}

func (b *Backend) SoftmaxBackward(dx, y, dy []float32, rows, n int, log bool) {
	checkRows("SoftmaxBackward", rows, n, dx, y, dy)
	if rows*n == 0 {
		return
	}
	cl := b.d.begin("SoftmaxBackward")
	defer cl.end()
	py, pdy := cl.in(y[:rows*n]), cl.in(dy[:rows*n])
	pdx := cl.inout(dx[:rows*n])
	cl.args().ptr(pdx).ptr(py).ptr(pdy).i32(n).flag(log)
	cl.launch("k_softmax_backward", dim3(rows, 1), rowThreads(n), 0)
}

func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) {
	checkRows("LayerNorm", rows, n, y, x)
	checkRows("LayerNorm", rows, 1, mean, rstd)
	checkRows("LayerNorm", 1, n, gamma, beta)
	if rows == 0 {
		return
	}
	cl := b.d.begin("LayerNorm")
	defer cl.end()
	px, pg, pb := cl.in(x[:rows*n]), cl.in(gamma[:n]), cl.in(beta[:n])
	py, pm, pr := cl.out(y[:rows*n]), cl.out(mean[:rows]), cl.out(rstd[:rows])
	cl.args().ptr(py).ptr(pm).ptr(pr).ptr(px).ptr(pg).ptr(pb).i32(n).f32(eps)
	cl.launch("k_layernorm", dim3(rows, 1), rowThreads(n), 0)
}

func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int) {
	checkRows("LayerNormBackward", rows, n, dy, x)
	checkRows("LayerNormBackward", rows, 1, mean, rstd)
	checkRows("LayerNormBackward", 1, n, gamma)
	if dx != nil {
		checkRows("LayerNormBackward", rows, n, dx)
	}
	if dgamma != nil {
		checkRows("LayerNormBackward", 1, n, dgamma)
	}
	if dbeta != nil {
		checkRows("LayerNormBackward", 1, n, dbeta)
	}
	if rows*n == 0 {
		return
	}
	cl := b.d.begin("LayerNormBackward")
	defer cl.end()
	pdy, px, pg := cl.in(dy[:rows*n]), cl.in(x[:rows*n]), cl.in(gamma[:n])
	pm, pr := cl.in(mean[:rows]), cl.in(rstd[:rows])
	if dx != nil {
		pdx := cl.inout(dx[:rows*n])
		cl.args().ptr(pdx).ptr(pdy).ptr(px).ptr(pg).ptr(pm).ptr(pr).i32(n)
		cl.launch("k_layernorm_dx", dim3(rows, 1), rowThreads(n), 0)
	}
	if dgamma == nil && dbeta == nil {
		return
	}
	var pdg, pdb uint64
	if dgamma != nil {
		pdg = cl.inout(dgamma[:n])
	}
	if dbeta != nil {
		pdb = cl.inout(dbeta[:n])
	}
	blocksX := (n + 31) / 32
	chunks := min(max((4*b.d.sms+blocksX-1)/blocksX, 1), max((rows+63)/64, 1), 65535)
	chunk := (rows + chunks - 1) / chunks
	chunks = (rows + chunk - 1) / chunk
	var partial uint64
	if chunks > 1 {
		partial = cl.scratch(4 * 2 * chunks * n)
	}
	cl.args().ptr(pdg).ptr(pdb).ptr(partial).ptr(pdy).ptr(px).ptr(pm).ptr(pr).i32(rows).i32(n).i32(chunk)
	cl.launch("k_layernorm_dgb", dim3(blocksX, chunks), dim3(32, 8), 0)
	if chunks > 1 {
		if pdg != 0 {
			cl.args().ptr(pdg).ptr(partial).i64(int64(n)).i32(chunks).i64(int64(2 * n))
			cl.launch("k_cols_finish", cl.elems(int64(n)), block256, 0)
		}
		if pdb != 0 {
			cl.args().ptr(pdb).ptr(at(partial, int64(n))).i64(int64(n)).i32(chunks).i64(int64(2 * n))
			cl.launch("k_cols_finish", cl.elems(int64(n)), block256, 0)
		}
	}
}

func (b *Backend) Normalize(y, norms, x []float32, rows, n int, eps float32) {
	checkRows("Normalize", rows, n, y, x)
	checkRows("Normalize", rows, 1, norms)
	if rows == 0 {
		return
	}
	cl := b.d.begin("Normalize")
	defer cl.end()
	px := cl.in(x[:rows*n])
	py, pn := cl.out(y[:rows*n]), cl.out(norms[:rows])
	cl.args().ptr(py).ptr(pn).ptr(px).i32(n).f32(eps)
	cl.launch("k_normalize", dim3(rows, 1), rowThreads(n), 0)
}

func (b *Backend) NormalizeBackward(dx, dy, y, norms []float32, rows, n int, eps float32) {
	checkRows("NormalizeBackward", rows, n, dx, dy, y)
	checkRows("NormalizeBackward", rows, 1, norms)
	if rows*n == 0 {
		return
	}
	cl := b.d.begin("NormalizeBackward")
	defer cl.end()
	pdy, py, pn := cl.in(dy[:rows*n]), cl.in(y[:rows*n]), cl.in(norms[:rows])
	pdx := cl.inout(dx[:rows*n])
	cl.args().ptr(pdx).ptr(pdy).ptr(py).ptr(pn).i32(n).f32(eps)
	cl.launch("k_normalize_backward", dim3(rows, 1), rowThreads(n), 0)
}

// ---- attention ----

func checkAttn(op string, b, h, lq, lk, d int, out, lse, q, k, v, mask []float32) {
	if b < 0 || h < 0 || lq < 0 || lk < 0 || d < 0 {
		panic(fmt.Sprintf("cuda: %s: negative dimension B=%d H=%d Lq=%d Lk=%d D=%d", op, b, h, lq, lk, d))
	}
	need(op, "q", len(q), b*h*lq*d)
	need(op, "out", len(out), b*h*lq*d)
	need(op, "k", len(k), b*h*lk*d)
	need(op, "v", len(v), b*h*lk*d)
	need(op, "lse", len(lse), b*h*lq)
	if mask != nil {
		need(op, "mask", len(mask), b*lq*lk)
	}
}

// attnTiles returns the queries (or keys) per warp of the attention
// kernels for head dimension d, and the shared memory (bytes) of the
// forward, dQ and dK/dV kernels.
func attnTiles(d int) (qw, kw, fwd, dq, dkdv int) {
	p := d | 1
	qw, kw = 1, 1
	switch {
	case d <= 32:
		qw, kw = 4, 4
	case d <= 64:
		qw, kw = 4, 2
	case d <= 128:
		qw = 2
	}
	fwd = 4 * (32*p + 4*(2*qw*d+32))
	dq = 4 * (2*32*p + 4*(3*qw*d+32))
	dkdv = 4 * (2*32*p + 64 + 4*(4*kw*d+64))
	return
}

// lay is an attention operand's layout: element strides of batch, head
// and row (Lay in kernelSource).
type lay struct{ b, h, r int64 }

func contig(h, l, d int) lay { return lay{int64(h * l * d), int64(l * d), int64(d)} }

func layOf(l tensor.AttnLayout) lay { return lay{int64(l.Batch), int64(l.Head), int64(l.Row)} }

func (a *argBuf) lay(l lay) *argBuf {
	b := a.slot(24, 8)
	for i, v := range []int64{l.b, l.h, l.r} {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return a
}

// attnExtent is how many values from its start an operand at layout l
// spans (0 when it is empty).
func attnExtent(l tensor.AttnLayout, b, h, n, d int) int {
	if b*h*n*d == 0 {
		return 0
	}
	if l.Off < 0 || l.Batch < 0 || l.Head < 0 || l.Row < 0 {
		panic(fmt.Sprintf("cuda: AttentionStrided: negative layout %+v", l))
	}
	return l.Off + (b-1)*l.Batch + (h-1)*l.Head + (n-1)*l.Row + d
}

// attnOp is one attention operand on the device: its address (at its
// layout's offset) and layout.
type attnOp struct {
	p uint64
	l lay
}

// attnForward launches the forward kernel; lse is contiguous.
func (b *Backend) attnForward(cl *call, out, q, k, v attnOp, lse, mask uint64, bn, h, lq, lk, d int, scale float32, causal bool) {
	qw, _, shared, _, _ := attnTiles(d)
	cl.args().ptr(out.p).ptr(lse).ptr(q.p).ptr(k.p).ptr(v.p).ptr(mask).lay(q.l).lay(k.l).lay(v.l).lay(out.l).
		i32(h).i32(lq).i32(lk).i32(d).f32(scale).flag(causal).i32(qw)
	cl.launch("k_attn_fwd", dim3(bn*h, (lq+4*qw-1)/(4*qw)), dim3(128, 1), shared)
}

// attnBackward launches the backward kernels: into dq, dk and dv they add
// the gradients (accumulate) or write them.
func (b *Backend) attnBackward(cl *call, dq, dk, dv, dout, q, k, v, out attnOp, lse, mask uint64,
	bn, h, lq, lk, d int, scale float32, causal, accumulate bool) {
	rows := bn * h * lq
	var pD uint64
	if rows > 0 && lk > 0 {
		pD = cl.scratch(4 * rows)
		cl.args().ptr(pD).ptr(dout.p).ptr(out.p).lay(dout.l).lay(out.l).i32(h).i32(lq).i64(int64(rows)).i32(d)
		cl.launch("k_attn_rowdot", dim3((rows+7)/8, 1), block256, 0)
	}
	qw, kw, _, sdq, sdkdv := attnTiles(d)
	cl.args().ptr(dq.p).ptr(dout.p).ptr(q.p).ptr(k.p).ptr(v.p).ptr(lse).ptr(pD).ptr(mask).
		lay(dq.l).lay(dout.l).lay(q.l).lay(k.l).lay(v.l).
		i32(h).i32(lq).i32(lk).i32(d).f32(scale).flag(causal).i32(qw).flag(accumulate)
	cl.launch("k_attn_bwd_dq", dim3(bn*h, (lq+4*qw-1)/(4*qw)), dim3(128, 1), sdq)
	cl.args().ptr(dk.p).ptr(dv.p).ptr(dout.p).ptr(q.p).ptr(k.p).ptr(v.p).ptr(lse).ptr(pD).ptr(mask).
		lay(dk.l).lay(dv.l).lay(dout.l).lay(q.l).lay(k.l).lay(v.l).
		i32(h).i32(lq).i32(lk).i32(d).f32(scale).flag(causal).i32(kw).flag(accumulate)
	cl.launch("k_attn_bwd_dkdv", dim3(bn*h, (lk+4*kw-1)/(4*kw)), dim3(128, 1), sdkdv)
}

func (b *Backend) Attention(out, lse, q, k, v []float32, bn, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	checkAttn("Attention", bn, h, lq, lk, d, out, lse, q, k, v, mask)
	if bn*h*lq == 0 {
		return
	}
	nq, nk := bn*h*lq*d, bn*h*lk*d
	cl := b.d.begin("Attention")
	defer cl.end()
	pq, pk, pv := cl.in(q[:nq]), cl.in(k[:nk]), cl.in(v[:nk])
	var pm uint64
	if mask != nil {
		pm = cl.in(mask[:bn*lq*lk])
	}
	po, pl := cl.out(out[:nq]), cl.out(lse[:bn*h*lq])
	lq4, lk4 := contig(h, lq, d), contig(h, lk, d)
	b.attnForward(cl, attnOp{po, lq4}, attnOp{pq, lq4}, attnOp{pk, lk4}, attnOp{pv, lk4}, pl, pm, bn, h, lq, lk, d, scale, causal)
}

func (b *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, bn, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	checkAttn("AttentionBackward", bn, h, lq, lk, d, out, lse, q, k, v, mask)
	need("AttentionBackward", "dq", len(dq), bn*h*lq*d)
	need("AttentionBackward", "dout", len(dout), bn*h*lq*d)
	need("AttentionBackward", "dk", len(dk), bn*h*lk*d)
	need("AttentionBackward", "dv", len(dv), bn*h*lk*d)
	if bn*h*lq*lk*d == 0 {
		return // nothing reaches the gradients
	}
	nq, nk, rows := bn*h*lq*d, bn*h*lk*d, bn*h*lq
	cl := b.d.begin("AttentionBackward")
	defer cl.end()
	pq, pk, pv := cl.in(q[:nq]), cl.in(k[:nk]), cl.in(v[:nk])
	po, pl, pdo := cl.in(out[:nq]), cl.in(lse[:rows]), cl.in(dout[:nq])
	var pm uint64
	if mask != nil {
		pm = cl.in(mask[:bn*lq*lk])
	}
	pdq, pdk, pdv := cl.inout(dq[:nq]), cl.inout(dk[:nk]), cl.inout(dv[:nk])
	lq4, lk4 := contig(h, lq, d), contig(h, lk, d)
	b.attnBackward(cl, attnOp{pdq, lq4}, attnOp{pdk, lk4}, attnOp{pdv, lk4}, attnOp{pdo, lq4},
		attnOp{pq, lq4}, attnOp{pk, lk4}, attnOp{pv, lk4}, attnOp{po, lq4}, pl, pm, bn, h, lq, lk, d, scale, causal, true)
}

// strided stages an attention operand of x at layout l and returns it.
// The whole of x is staged, so that operands sharing a buffer (a packed
// q/k/v projection, or its gradient) share one device copy: separate
// copies of one output buffer would overwrite each other when copied back.
func (cl *call) strided(op, what string, x []float32, l tensor.AttnLayout, b, h, n, d int, how func([]float32) uint64) attnOp {
	e := attnExtent(l, b, h, n, d)
	need(op, what, len(x), e)
	if e == 0 {
		return attnOp{0, layOf(l)}
	}
	return attnOp{at(how(x), int64(l.Off)), layOf(l)}
}

// AttentionStrided is Attention on operands at any layout
// (tensor.StridedAttention), so that heads are read from and written to
// packed projections in place.
func (b *Backend) AttentionStrided(a *tensor.AttnArgs) {
	bn, h, lq, lk, d := a.B, a.H, a.Lq, a.Lk, a.D
	if bn < 0 || h < 0 || lq < 0 || lk < 0 || d < 0 {
		panic(fmt.Sprintf("cuda: AttentionStrided: negative dimension B=%d H=%d Lq=%d Lk=%d D=%d", bn, h, lq, lk, d))
	}
	need("AttentionStrided", "lse", len(a.LSE), bn*h*lq)
	if a.Mask != nil {
		need("AttentionStrided", "mask", len(a.Mask), bn*lq*lk)
	}
	if bn*h*lq == 0 {
		return
	}
	const op = "AttentionStrided"
	cl := b.d.begin(op)
	defer cl.end()
	q := cl.strided(op, "q", a.Q, a.QL, bn, h, lq, d, cl.in)
	k := cl.strided(op, "k", a.K, a.KL, bn, h, lk, d, cl.in)
	v := cl.strided(op, "v", a.V, a.VL, bn, h, lk, d, cl.in)
	var pm uint64
	if a.Mask != nil {
		pm = cl.in(a.Mask[:bn*lq*lk])
	}
	out := cl.strided(op, "out", a.Out, a.OutL, bn, h, lq, d, cl.inout)
	pl := cl.out(a.LSE[:bn*h*lq])
	b.attnForward(cl, out, q, k, v, pl, pm, bn, h, lq, lk, d, a.Scale, a.Causal)
}

// AttentionStridedBackward writes the gradients at the layouts of q, k and
// v (tensor.StridedAttention); dq, dk and dv may be one buffer.
func (b *Backend) AttentionStridedBackward(a *tensor.AttnArgs, dq, dk, dv, dout []float32) {
	bn, h, lq, lk, d := a.B, a.H, a.Lq, a.Lk, a.D
	if bn < 0 || h < 0 || lq < 0 || lk < 0 || d < 0 {
		panic(fmt.Sprintf("cuda: AttentionStridedBackward: negative dimension B=%d H=%d Lq=%d Lk=%d D=%d", bn, h, lq, lk, d))
	}
	need("AttentionStridedBackward", "lse", len(a.LSE), bn*h*lq)
	if a.Mask != nil {
		need("AttentionStridedBackward", "mask", len(a.Mask), bn*lq*lk)
	}
	if bn*h*d == 0 || lq+lk == 0 {
		return
	}
	const op = "AttentionStridedBackward"
	cl := b.d.begin(op)
	defer cl.end()
	q := cl.strided(op, "q", a.Q, a.QL, bn, h, lq, d, cl.in)
	k := cl.strided(op, "k", a.K, a.KL, bn, h, lk, d, cl.in)
	v := cl.strided(op, "v", a.V, a.VL, bn, h, lk, d, cl.in)
	out := cl.strided(op, "out", a.Out, a.OutL, bn, h, lq, d, cl.in)
	g := cl.strided(op, "dout", dout, a.OutL, bn, h, lq, d, cl.in)
	var pm, pl uint64
	if a.Mask != nil {
		pm = cl.in(a.Mask[:bn*lq*lk])
	}
	if lq > 0 {
		pl = cl.in(a.LSE[:bn*h*lq])
	}
	// Every position of the layouts is written, the rest of the buffers
	// kept: stage them whole (once when they are one buffer).
	gq := cl.strided(op, "dq", dq, a.QL, bn, h, lq, d, cl.inout)
	gk := cl.strided(op, "dk", dk, a.KL, bn, h, lk, d, cl.inout)
	gv := cl.strided(op, "dv", dv, a.VL, bn, h, lk, d, cl.inout)
	b.attnBackward(cl, gq, gk, gv, g, q, k, v, out, pl, pm, bn, h, lq, lk, d, a.Scale, a.Causal, false)
}

// ---- embedding ----

func checkIDs(op string, ids []int32, rows int) {
	for i, id := range ids {
		if id < 0 || int(id) >= rows {
			panic(fmt.Sprintf("cuda: %s: id %d at position %d out of range for %d rows", op, id, i, rows))
		}
	}
}

// onDevice reports whether the ids lie in the backend's memory (tensor.IDs):
// the host has checked them and must not read them there.
func (b *Backend) onDevice(ids []int32) bool {
	return len(ids) > 0 && b.d.alloc.find(uint64(uintptr(unsafe.Pointer(unsafe.SliceData(ids)))), 4*len(ids))
}

func (b *Backend) Gather(dst, table []float32, ids []int32, dim int) {
	if dim <= 0 || len(ids) == 0 {
		return
	}
	if !b.onDevice(ids) {
		checkIDs("Gather", ids, len(table)/dim)
	}
	total := len(ids) * dim
	need("Gather", "dst", len(dst), total)
	cl := b.d.begin("Gather")
	defer cl.end()
	pt, pi := cl.in(table), cl.ints(ids)
	pd := cl.out(dst[:total])
	cl.args().ptr(pd).ptr(pt).ptr(pi).i64(int64(total)).i32(dim)
	cl.launch("k_gather", cl.elems(int64(total)), block256, 0)
}

// ScatterAdd groups the positions by id and adds each id's rows in
// ascending position order, so the result is the serial loop's, bit for
// bit, and needs no atomics. Ids in Go memory are grouped on the host and
// the index copied; ids on the device (tensor.IDs) are grouped there by a
// counting sort, with nothing copied.
func (b *Backend) ScatterAdd(dtable, dy []float32, ids []int32, dim int) {
	if dim <= 0 || len(ids) == 0 {
		return
	}
	need("ScatterAdd", "dy", len(dy), len(ids)*dim)
	if b.onDevice(ids) {
		n := len(ids)
		cl := b.d.begin("ScatterAdd")
		defer cl.end()
		pi := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(ids))))
		pos := cl.scratch(4 * n)
		cl.args().ptr(pos).ptr(pi).i32(n)
		cl.launch("k_id_sort", cl.elems(int64(n)), block256, 0)
		pdy := cl.in(dy[:n*dim])
		pt := cl.inout(dtable)
		cl.args().ptr(pt).ptr(pdy).ptr(pi).ptr(pos).i32(n).i32(dim)
		cl.launch("k_scatter_add_sorted", dim3(n, (dim+127)/128), dim3(128, 1), 0)
		return
	}
	checkIDs("ScatterAdd", ids, len(dtable)/dim)
	cl := b.d.begin("ScatterAdd")
	defer cl.end()
	d := cl.d
	d.keys = d.keys[:0]
	for i, id := range ids {
		d.keys = append(d.keys, uint64(id)<<32|uint64(i))
	}
	slices.Sort(d.keys)
	// idx holds the distinct ids, then their start offsets (one more),
	// then the positions.
	d.idx = d.idx[:0]
	for i, kv := range d.keys {
		if i == 0 || kv>>32 != d.keys[i-1]>>32 {
			d.idx = append(d.idx, int32(kv>>32))
		}
	}
	u := len(d.idx)
	for i, kv := range d.keys {
		if i == 0 || kv>>32 != d.keys[i-1]>>32 {
			d.idx = append(d.idx, int32(i))
		}
	}
	d.idx = append(d.idx, int32(len(d.keys)))
	for _, kv := range d.keys {
		d.idx = append(d.idx, int32(uint32(kv)))
	}
	pidx := cl.ints(d.idx)
	pdy := cl.in(dy[:len(ids)*dim])
	pt := cl.inout(dtable)
	cl.args().ptr(pt).ptr(pdy).ptr(pidx).ptr(at(pidx, int64(u))).ptr(at(pidx, int64(2*u+1))).i32(dim)
	cl.launch("k_scatter_add", dim3(u, (dim+127)/128), dim3(128, 1), 0)
}

// ---- cross-entropy ----

func checkTargets(targets []int32, n int, ignore int32) int {
	count := 0
	for i, t := range targets {
		if t == ignore {
			continue
		}
		if t < 0 || int(t) >= n {
			panic(fmt.Sprintf("cuda: CrossEntropy: target %d at row %d out of range for %d classes", t, i, n))
		}
		count++
	}
	return count
}

func (b *Backend) CrossEntropy(lse, logits []float32, targets []int32, rows, n int, ignore int32) (float64, int) {
	checkRows("CrossEntropy", rows, n, logits)
	checkRows("CrossEntropy", rows, 1, lse)
	need("CrossEntropy", "targets", len(targets), rows)
	host := targets[:rows]
	if b.onDevice(host) { // count them from a copy
		host = make([]int32, rows)
		b.copyIDsToHost(host, targets[:rows])
	}
	count := checkTargets(host, n, ignore)
	if rows == 0 {
		return 0, 0
	}
	cl := b.d.begin("CrossEntropy")
	defer cl.end()
	px, pt := cl.in(logits[:rows*n]), cl.ints(targets[:rows])
	pl := cl.out(lse[:rows])
	term := cl.scratch(8 * (rows + 1))
	res := term + uint64(8*rows)
	cl.args().ptr(pl).ptr(term).ptr(px).ptr(pt).i32(n).i32(int(ignore))
	cl.launch("k_ce_fwd", dim3(rows, 1), rowThreads(n), 0)
	cl.args().ptr(term).i64(int64(rows)).ptr(res)
	cl.launch("k_dsum", dim3(1, 1), block256, 0)
	return cl.float64At(res), count
}

func (b *Backend) CrossEntropyBackward(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32) {
	b.crossEntropyBackward("CrossEntropyBackward", dlogits, logits, lse, targets, rows, n, ignore, g, false, nil, 0)
}

// CrossEntropyBackwardStore stores g·(softmax − onehot) (zeros in ignored
// rows) instead of adding it (tensor.CrossEntropyBackwardStorer), so the
// vocabulary-wide logits gradient needs no zeroing pass.
func (b *Backend) CrossEntropyBackwardStore(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32) {
	b.crossEntropyBackward("CrossEntropyBackwardStore", dlogits, logits, lse, targets, rows, n, ignore, g, true, nil, 0)
}

func (b *Backend) crossEntropyBackward(op string, dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, g float32, store bool, gout []float32, count int) {
	checkRows(op, rows, n, dlogits, logits)
	checkRows(op, rows, 1, lse)
	need(op, "targets", len(targets), rows)
	if !b.onDevice(targets[:rows]) {
		checkTargets(targets[:rows], n, ignore)
	}
	if rows*n == 0 {
		return
	}
	cl := b.d.begin(op)
	defer cl.end()
	px, pl, pt := cl.in(logits[:rows*n]), cl.in(lse[:rows]), cl.ints(targets[:rows])
	var pd uint64
	if store {
		pd = cl.out(dlogits[:rows*n])
	} else {
		pd = cl.inout(dlogits[:rows*n])
	}
	var pg uint64
	if gout != nil {
		pg = cl.in(gout[:1])
	}
	cl.args().ptr(pd).ptr(px).ptr(pl).ptr(pt).i32(n).i32(int(ignore)).f32(g).flag(store).ptr(pg).i32(count)
	cl.launch("k_ce_bwd", dim3(rows, 1), rowThreads(n), 0)
}

var _ tensor.CrossEntropyMeaner = (*Backend)(nil)

// CrossEntropyMean is CrossEntropy with the mean written into loss[0] on
// the device instead of read by the host (tensor.CrossEntropyMeaner): no
// synchronisation.
func (b *Backend) CrossEntropyMean(loss, lse, logits []float32, targets []int32, rows, n int, ignore int32, count int) {
	checkRows("CrossEntropyMean", rows, n, logits)
	checkRows("CrossEntropyMean", rows, 1, lse)
	need("CrossEntropyMean", "targets", len(targets), rows)
	need("CrossEntropyMean", "loss", len(loss), 1)
	if b.onDevice(targets[:rows]) {
		// tensor.IDs: the host checked and counted them
	} else if c := checkTargets(targets[:rows], n, ignore); c != count {
		panic(fmt.Sprintf("cuda: CrossEntropyMean: %d rows counted, %d targets not ignored", count, c))
	}
	cl := b.d.begin("CrossEntropyMean")
	defer cl.end()
	po := cl.out(loss[:1])
	term := cl.scratch(8 * (rows + 1))
	res := term + uint64(8*rows)
	if rows > 0 {
		px, pt := cl.in(logits[:rows*n]), cl.ints(targets[:rows])
		pl := cl.out(lse[:rows])
		cl.args().ptr(pl).ptr(term).ptr(px).ptr(pt).i32(n).i32(int(ignore))
		cl.launch("k_ce_fwd", dim3(rows, 1), rowThreads(n), 0)
	}
	cl.args().ptr(term).i64(int64(rows)).ptr(res)
	cl.launch("k_dsum", dim3(1, 1), block256, 0)
	cl.args().ptr(po).ptr(res).i32(count)
	cl.launch("k_ce_mean", dim3(1, 1), dim3(32, 1), 0)
}

// CrossEntropyBackwardMean is CrossEntropyBackward (CrossEntropyBackwardStore
// with store) with g = gout[0]/count read by the kernel
// (tensor.CrossEntropyMeaner).
func (b *Backend) CrossEntropyBackwardMean(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, gout []float32, count int, store bool) {
	need("CrossEntropyBackwardMean", "gout", len(gout), 1)
	b.crossEntropyBackward("CrossEntropyBackwardMean", dlogits, logits, lse, targets, rows, n, ignore, 0, store, gout[:1], count)
}

var _ tensor.CausalMasker = (*Backend)(nil)

// CausalMask fills the additive causal mask with a kernel
// (tensor.CausalMasker); only rowMask is copied to the device.
func (b *Backend) CausalMask(dst, rowMask []float32, bs, n, row int) {
	total := int64(bs) * int64(n) * int64(n)
	need("CausalMask", "dst", len(dst), int(total))
	need("CausalMask", "rowMask", len(rowMask), bs*n)
	if row < 0 || row >= n {
		panic(fmt.Sprintf("cuda: CausalMask: row %d of %d", row, n))
	}
	if total == 0 {
		return
	}
	cl := b.d.begin("CausalMask")
	defer cl.end()
	pr := cl.in(rowMask[:bs*n])
	pd := cl.out(dst[:total])
	cl.args().ptr(pd).ptr(pr).i64(total).i32(n).i32(row)
	cl.launch("k_causal_mask", cl.elems(total), block256, 0)
}

// ---- ids on the device (tensor.IDBackend) ----

var _ tensor.IDBackend = (*Backend)(nil)

func int32Addr(x []int32) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(x)))) }

// deviceIDs panics unless x lies in the backend's memory.
func (b *Backend) deviceIDs(op, name string, x []int32) uint64 {
	if !b.onDevice(x) {
		panic(fmt.Sprintf("cuda: %s: %s (%d ids) is not memory of this backend", op, name, len(x)))
	}
	return int32Addr(x)
}

// CopyIDsFromHost copies the host ids src into dst, device memory of the
// backend, in stream order: the step's one copy of its token ids.
func (b *Backend) CopyIDsFromHost(dst, src []int32) {
	need("CopyIDsFromHost", "dst", len(dst), len(src))
	if len(src) == 0 {
		return
	}
	pd := b.deviceIDs("CopyIDsFromHost", "dst", dst[:len(src)])
	cl := b.d.begin("CopyIDsFromHost")
	defer cl.end()
	cl.check(cuMemcpyHtoD(pd, unsafe.Pointer(unsafe.SliceData(src)), 4*len(src), b.d.stream))
}

// copyIDsToHost copies device ids into the host slice dst (one wait).
func (b *Backend) copyIDsToHost(dst, src []int32) {
	cl := b.d.begin("CopyIDsToHost")
	defer cl.end()
	cl.check(cuMemcpyDtoH(unsafe.Pointer(unsafe.SliceData(dst)), int32Addr(src), 4*len(src), b.d.stream))
}

// IDColumns sets dst (rows, w) to the columns [off, off+w) of src's rows
// of ld ids, on the device.
func (b *Backend) IDColumns(dst, src []int32, rows, w, ld, off int) {
	total := int64(rows) * int64(w)
	if total == 0 {
		return
	}
	if off < 0 || w < 0 || off+w > ld {
		panic(fmt.Sprintf("cuda: IDColumns: columns [%d, %d) of rows of %d", off, off+w, ld))
	}
	need("IDColumns", "dst", len(dst), int(total))
	need("IDColumns", "src", len(src), rows*ld)
	pd := b.deviceIDs("IDColumns", "dst", dst[:total])
	ps := b.deviceIDs("IDColumns", "src", src[:rows*ld])
	cl := b.d.begin("IDColumns")
	defer cl.end()
	cl.args().ptr(pd).ptr(ps).i64(total).i32(w).i32(ld).i32(off)
	cl.launch("k_ids_cols", cl.elems(total), block256, 0)
}

// IDRange sets dst[i] = first + i on the device.
func (b *Backend) IDRange(dst []int32, first int) {
	if len(dst) == 0 {
		return
	}
	pd := b.deviceIDs("IDRange", "dst", dst)
	cl := b.d.begin("IDRange")
	defer cl.end()
	cl.args().ptr(pd).i64(int64(len(dst))).i32(first)
	cl.launch("k_ids_range", cl.elems(int64(len(dst))), block256, 0)
}

// CausalMaskIDs fills the text tower's mask from the ids on the device
// (tensor.IDBackend): nothing is copied.
func (b *Backend) CausalMaskIDs(dst []float32, ids []int32, bs, n, row, l int, pad int32, shift int) {
	total := int64(bs) * int64(n) * int64(n)
	need("CausalMaskIDs", "dst", len(dst), int(total))
	need("CausalMaskIDs", "ids", len(ids), bs*l)
	if row < 0 || row >= n {
		panic(fmt.Sprintf("cuda: CausalMaskIDs: row %d of %d", row, n))
	}
	if total == 0 {
		return
	}
	var pi uint64
	if bs*l > 0 {
		pi = b.deviceIDs("CausalMaskIDs", "ids", ids[:bs*l])
	}
	cl := b.d.begin("CausalMaskIDs")
	defer cl.end()
	pd := cl.out(dst[:total])
	cl.args().ptr(pd).ptr(pi).i64(total).i32(n).i32(row).i32(l).i32(int(pad)).i32(shift)
	cl.launch("k_causal_mask_ids", cl.elems(total), block256, 0)
}

// ---- optimizer updates ----

func (b *Backend) AdamW(w, g, m, v []float32, s tensor.AdamWStep) {
	n := len(w)
	need("AdamW", "g", len(g), n)
	need("AdamW", "m", len(m), n)
	need("AdamW", "v", len(v), n)
	if n == 0 {
		return
	}
	cl := b.d.begin("AdamW")
	defer cl.end()
	pg := cl.in(g[:n])
	pw, pm, pv := cl.inout(w), cl.inout(m[:n]), cl.inout(v[:n])
	cl.args().ptr(pw).ptr(pg).ptr(pm).ptr(pv).i64(int64(n)).
		f32(s.Beta1).f32(s.Beta2).f32(s.OneMinusBeta1).f32(s.OneMinusBeta2).f32(s.Decay).f32(s.NegStep).f32(s.Eps)
	cl.launch("k_adamw", cl.elems(int64(n)), block256, 0)
}

func (b *Backend) SGD(w, g, buf []float32, s tensor.SGDStep) {
	n := len(w)
	need("SGD", "g", len(g), n)
	if buf != nil {
		need("SGD", "buf", len(buf), n)
	}
	if n == 0 {
		return
	}
	cl := b.d.begin("SGD")
	defer cl.end()
	pg := cl.in(g[:n])
	pw := cl.inout(w)
	var pb uint64
	if buf != nil {
		pb = cl.inout(buf[:n])
	}
	cl.args().ptr(pw).ptr(pg).ptr(pb).i64(int64(n)).f32(s.NegLR).f32(s.WeightDecay).f32(s.Momentum).f32(s.OneMinusDampening).
		flag(buf != nil).flag(s.First).flag(s.Nesterov)
	cl.launch("k_sgd", cl.elems(int64(n)), block256, 0)
}
