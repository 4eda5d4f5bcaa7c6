package tensor

import "fmt"

// MatMul returns op(a)·op(b) where op transposes the last two axes when the
// flag is set: op(a) is (..., M, K), op(b) is (..., K, N) and the result is
// (..., M, N). Leading (batch) axes broadcast as in NumPy; a 2-D operand is
// shared by every batch entry. A bfloat16 b (see ToBF16) must be 2-D with
// op(b) the transpose of its stored matrix (inference only).
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	if len(a.shape) < 2 || len(b.shape) < 2 {
		panic(fmt.Sprintf("tensor: MatMul: operands must be at least 2-D, got %v and %v", a.shape, b.shape))
	}
	if b.reduced() {
		// op(b) = Sᵀ for the stored (n × k) matrix S: a linear layer.
		if len(b.shape) != 2 || transA || transB == b.halfT {
			panic(fmt.Sprintf("tensor: MatMul: %s (stored transposed: %v) with transA=%v transB=%v: only a·Sᵀ for its stored matrix S is supported", b.describe(), b.halfT, transA, transB))
		}
		k, n := b.shape[0], b.shape[1]
		if transB {
			k, n = n, k
		}
		if a.shape[len(a.shape)-1] != k {
			panic(fmt.Sprintf("tensor: MatMul: inner dimensions differ: %v and %s %v (transB=%v)", a.shape, b.DType(), b.shape, transB))
		}
		return linearBF16("MatMul", a, b, nil, n, k)
	}
	ra, rb := len(a.shape), len(b.shape)
	m, k := a.shape[ra-2], a.shape[ra-1]
	if transA {
		m, k = k, m
	}
	kb, n := b.shape[rb-2], b.shape[rb-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("tensor: MatMul: inner dimensions differ: %v (transA=%v) and %v (transB=%v)", a.shape, transA, b.shape, transB))
	}
	batchA, batchB := a.shape[:ra-2], b.shape[:rb-2]
	batch := broadcastShape("MatMul", batchA, batchB)
	nb := numel(batch)
	shape := append(cloneInts(batch), m, n)
	out := newOut(shape, a, b)

	// Per-matrix offsets (in matrices) of a and b for each output matrix.
	sa, sb := broadcastStrides(batchA, batch), broadcastStrides(batchB, batch)
	lda, ldb := a.shape[ra-1], b.shape[rb-1]
	szA, szB, szC := m*k, k*n, m*n
	strideA, okA := uniformStride(batch, sa)
	strideB, okB := uniformStride(batch, sb)
	if nb > 1 && !transA && okA && okB && strideA == 1 && strideB == 0 {
		// a's matrices are stacked rows and op(b) is shared: one GEMM over
		// all rows (and, in backward, one for b's gradient over all rows)
		// instead of nb thin ones that each pack b.
		m, nb = m*nb, 1
		batch, sa, sb = nil, nil, nil
		szA, szC = m*k, m*n
	}

	// run computes the nb products; beta 0 overwrites c (forward), 1
	// accumulates (gradients).
	run := func(tA, tB bool, mm, nn, kk int, x []float32, ldx, sx int, xStrides []int, y []float32, ldy, sy int, yStrides []int, beta float32, c []float32, ldc, sc int, cStrides []int, uniform bool) {
		if uniform {
			product(out.prec, tA, tB, mm, nn, kk, 1, x, ldx, sx, y, ldy, sy, beta, c, ldc, sc, nb)
			return
		}
		for i := 0; i < nb; i++ {
			xo, yo := offsets(batch, i, xStrides, yStrides)
			co, _ := offsets(batch, i, cStrides, cStrides)
			product(out.prec, tA, tB, mm, nn, kk, 1, x[xo:], ldx, 0, y[yo:], ldy, 0, beta, c[co:], ldc, 0, 1)
		}
	}
	scaled := func(s []int, by int) []int {
		r := make([]int, len(s))
		for i, v := range s {
			r[i] = v * by
		}
		return r
	}
	saE, sbE := scaled(sa, szA), scaled(sb, szB)
	scE := scaled(contiguousStrides(batch), szC)
	run(transA, transB, m, n, k, a.data, lda, strideA*szA, saE, b.data, ldb, strideB*szB, sbE, 0, out.data, n, szC, scE, okA && okB)
	if !out.requiresGrad {
		return out
	}
	out.back = func() {
		dc := out.grad
		// grad returns x's gradient buffer and the beta its products use: a
		// uniform run writes each matrix of the gradient once, so a fresh
		// buffer is stored into (beta 0).
		grad := func(x *Tensor, uni bool) ([]float32, float32) {
			if uni {
				if g, fresh := x.gradDst(); fresh {
					return g, 0
				}
			}
			return x.gradBuf(), 1
		}
		if a.requiresGrad {
			// A's gradient is shared when A broadcasts: then accumulate one
			// matrix at a time so no two products write it at once.
			uni := okA && okB && strideA != 0
			ga, beta := grad(a, uni)
			if !transA { // dA (m×k) += dC·op(B)ᵀ
				run(false, !transB, m, k, n, dc, n, szC, scE, b.data, ldb, strideB*szB, sbE, beta, ga, lda, strideA*szA, saE, uni)
			} else { // dA (k×m) += op(B)·dCᵀ
				run(transB, true, k, m, n, b.data, ldb, strideB*szB, sbE, dc, n, szC, scE, beta, ga, lda, strideA*szA, saE, uni)
			}
		}
		if b.requiresGrad {
			uni := okA && okB && strideB != 0
			gb, beta := grad(b, uni)
			if !transB { // dB (k×n) += op(A)ᵀ·dC
				run(!transA, false, k, n, m, a.data, lda, strideA*szA, saE, dc, n, szC, scE, beta, gb, ldb, strideB*szB, sbE, uni)
			} else { // dB (n×k) += dCᵀ·op(A)
				run(true, transA, n, k, m, dc, n, szC, scE, a.data, lda, strideA*szA, saE, beta, gb, ldb, strideB*szB, sbE, uni)
			}
		}
	}
	return out
}

// uniformStride reports whether the broadcast strides s over batch address
// matrix i at i·stride (all equal to the contiguous strides, or all zero).
func uniformStride(batch, s []int) (int, bool) {
	allZero := true
	for _, v := range s {
		if v != 0 {
			allZero = false
		}
	}
	if allZero {
		return 0, true
	}
	cs := contiguousStrides(batch)
	for i := range s {
		if batch[i] != 1 && s[i] != cs[i] {
			return 0, false
		}
	}
	return 1, true
}

// Linear returns x·wᵀ + b for x (..., In), w (Out, In) and b (Out) or nil.
// w may store bfloat16 values (see ToBF16): the product then reads them
// (inference only).
func Linear(x, w, b *Tensor) *Tensor {
	if len(w.shape) != 2 || len(x.shape) < 1 || x.shape[len(x.shape)-1] != w.shape[1] {
		panic(fmt.Sprintf("tensor: Linear: input %v and weight %v do not match (want weight (Out, %d))", x.shape, w.shape, lastDim(x)))
	}
	if b != nil && (len(b.shape) != 1 || b.shape[0] != w.shape[0]) {
		panic(fmt.Sprintf("tensor: Linear: bias %v for weight %v", b.shape, w.shape))
	}
	if w.reduced() {
		if w.halfT {
			panic(fmt.Sprintf("tensor: Linear: weight %s is stored transposed (use MatMul)", w.describe()))
		}
		return linearBF16("Linear", x, w, b, w.shape[0], w.shape[1])
	}
	in, outF := w.shape[1], w.shape[0]
	rows := x.Numel() / max(in, 1)
	if in == 0 {
		rows = numel(x.shape[:len(x.shape)-1])
	}
	shape := append(cloneInts(x.shape[:len(x.shape)-1]), outF)
	inputs := []*Tensor{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	checkInputs(inputs)
	out := newOutRecord(shape, numel(shape), inputs, false)
	if b != nil {
		productBias(out.prec, rows, outF, in, x.data, w.data, b.data, out.data)
	} else {
		product(out.prec, false, true, rows, outF, in, 1, x.data, in, 0, w.data, in, 0, 0, out.data, outF, 0, 1)
	}
	if !out.requiresGrad {
		return out
	}
	// The backward pass reads x's values only for dW, and not even then
	// where the backend packs x now (packLinearInput): x is then recorded
	// without being held, and the caller's Drop hands it back. An x that
	// another recorded op already holds stays anyway: packing it would
	// only add the packed copy.
	capture(inputs[1:])
	var pk packedInputs
	var packed []float32
	if w.requiresGrad && !x.held() {
		pk, packed = packLinearInput(out.prec, x.data, outF, in, rows)
	}
	if w.requiresGrad && packed == nil {
		capture(inputs[:1])
	} else {
		markFree(x)
	}
	if packed != nil {
		out.keep(packed)
	}
	out.back = func() {
		dy := out.grad
		if x.requiresGrad { // dx (rows×in) += dy·W
			g, fresh := x.gradDst()
			beta := float32(1)
			if fresh {
				beta = 0
			}
			product(out.prec, false, false, rows, in, outF, 1, dy, outF, 0, w.data, in, 0, beta, g, in, 0, 1)
		}
		if w.requiresGrad { // dW (out×in) += dyᵀ·x
			g, fresh := w.gradDst()
			beta := float32(1)
			if fresh {
				beta = 0
			}
			if packed != nil {
				pk.gemmPackedInput(outF, in, rows, dy, outF, packed, beta, g, in)
			} else {
				product(out.prec, true, false, outF, in, rows, 1, dy, outF, 0, x.data, in, 0, beta, g, in, 0, 1)
			}
		}
		if b != nil && b.requiresGrad {
			backend.Strided([]int{rows, outF}, b.gradBuf(), []int{0, 1}, dy, []int{outF, 1}, true)
		}
	}
	return out
}

func lastDim(x *Tensor) int {
	if len(x.shape) == 0 {
		return 0
	}
	return x.shape[len(x.shape)-1]
}
