package tensor

import (
	"fmt"

	"github.com/gococa/gococa/asm"
)

// Precision is the arithmetic of the matrix products (MatMul, Linear and
// the products of their backward passes) that read a tensor. It belongs
// to the tensors, not to the process: a model marks its parameters
// (SetPrecision) and every op's output takes the highest precision mark of
// its inputs (PrecisionBF16 over PrecisionF32), so the activations, and
// the gradients the backward pass computes from them, of a model whose
// parameters are marked bfloat16 take their products in bfloat16, while
// another model in the same process, on other goroutines, keeps float32.
//
// Products are the only ops it changes: attention (scores and weighted
// sums), normalisation, elementwise ops and the optimizer stay float32,
// and every tensor stores float32 values (a model's master weights,
// gradients and optimizer state included), so training with bfloat16
// products is mixed precision.
type Precision uint8

const (
	// PrecisionF32: float32 products (the default).
	PrecisionF32 Precision = iota
	// PrecisionBF16: each element of both operands of a product is
	// rounded to bfloat16 (nearest, ties to even; asm.RoundBF16) and the
	// products, exact in float32, are summed in float32 (asm.SgemmBF16):
	// on VDPBF16PS where the CPU has AVX512_BF16 (about twice the float32
	// rate); elsewhere the rounded operands run through the float32
	// kernels, which computes the same products, summed in another order,
	// no faster (asm.HasBF16 tells which).
	PrecisionBF16
)

// String returns "f32" or "bf16".
func (p Precision) String() string {
	switch p {
	case PrecisionF32:
		return "f32"
	case PrecisionBF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// ParsePrecision parses "f32" (or "float32") and "bf16" (or "bfloat16").
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "f32", "float32":
		return PrecisionF32, nil
	case "bf16", "bfloat16":
		return PrecisionBF16, nil
	}
	return 0, fmt.Errorf("precision %q: want f32 or bf16", s)
}

// BF16Products is an optional extension of Backend: products in
// bfloat16 (PrecisionBF16). A backend without it runs only float32
// products; ops on tensors marked bfloat16 then panic (CheckPrecision
// says so beforehand).
type BF16Products interface {
	// GemmProductsBF16 is Gemm with each element of alpha·op(A) and of
	// op(B) rounded to bfloat16 (nearest even) and the products summed
	// in float32.
	GemmProductsBF16(transA, transB bool, m, n, k int, alpha float32,
		a []float32, lda, strideA int, b []float32, ldb, strideB int,
		beta float32, c []float32, ldc, strideC, batch int)
}

// CheckPrecision returns an error, naming the backend, when the current
// backend cannot take products in precision p.
func CheckPrecision(p Precision) error {
	switch p {
	case PrecisionF32:
		return nil
	case PrecisionBF16:
		if _, ok := backend.(BF16Products); ok {
			return nil
		}
		return fmt.Errorf("tensor: precision bf16: the %s backend takes float32 products only", backend.Name())
	}
	return fmt.Errorf("tensor: %v: unknown precision", p)
}

// SetPrecision marks the leaf t (a parameter, or a tensor made with New
// or FromSlice) with the precision of the products that read it and of
// the ops' outputs made from it (see Precision). Like any write, it must
// not run while another goroutine runs ops on t: a model marks its
// parameters once, before it serves.
func (t *Tensor) SetPrecision(p Precision) {
	t.checkLeaf("SetPrecision")
	if p > PrecisionBF16 {
		panic(fmt.Sprintf("tensor: SetPrecision: %v", p))
	}
	t.prec = p
}

// Precision returns the precision mark of t: its own (SetPrecision) for a
// leaf, the highest of its inputs' for an op's output.
func (t *Tensor) Precision() Precision { return t.prec }

// precisionOf returns the highest precision mark among ts.
func precisionOf(ts ...*Tensor) Precision {
	var p Precision
	for _, t := range ts {
		if t != nil && t.prec > p {
			p = t.prec
		}
	}
	return p
}

// product runs the backend's Gemm in precision p.
func product(p Precision, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	if p == PrecisionF32 {
		backend.Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
		return
	}
	g, ok := backend.(BF16Products)
	if !ok {
		panic(CheckPrecision(p).Error())
	}
	g.GemmProductsBF16(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// BiasProducts is an optional extension of Backend: one product with a
// bias added to every row of C (Linear's forward pass).
type BiasProducts interface {
	// GemmBias computes C = alpha·op(A)·op(B) + bias (one matrix; bias of
	// n values added to every row; C is not read) with products in
	// precision p, bit for bit what Gemm (or GemmProductsBF16) gives with
	// beta 1 after each row of C is set to bias.
	GemmBias(p Precision, transA, transB bool, m, n, k int, alpha float32,
		a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int)
}

// productBias is c (m×n) = a (m×k)·wᵀ (w: n×k) + bias in every row, with
// products in precision p: in one pass where the backend can
// (BiasProducts), else C's rows filled with the bias and the product added.
func productBias(p Precision, m, n, k int, a, w, bias, c []float32) {
	if bp, ok := backend.(BiasProducts); ok {
		bp.GemmBias(p, false, true, m, n, k, 1, a, k, w, k, bias, c, n)
		return
	}
	fillRows(c, bias, m, n)
	product(p, false, true, m, n, k, 1, a, k, 0, w, k, 0, 1, c, n, 0, 1)
}

// GemmBias is the CPU backend's product with a bias (asm.SgemmBias,
// asm.SgemmBF16Bias).
func (cpuBackend) GemmBias(p Precision, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1)
	if p == PrecisionF32 {
		asm.SgemmBias(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
		return
	}
	asm.SgemmBF16Bias(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
}

// GemmProductsBF16 is the CPU backend's bfloat16 products (asm.SgemmBF16).
func (cpuBackend) GemmProductsBF16(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	// The float32 path checks the operands' lengths for the whole batch.
	checkGemm(transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch)
	for i := 0; i < batch; i++ {
		aa, bb := a, b
		if k > 0 {
			aa, bb = a[i*strideA:], b[i*strideB:]
		}
		asm.SgemmBF16(transA, transB, m, n, k, alpha, aa, lda, bb, ldb, beta, c[i*strideC:], ldc)
	}
}

// packedInputs is an optional extension of Backend (the CPU's, where it
// has a bfloat16 kernel): a Linear whose products are bfloat16 packs its
// input in the forward pass, while the input is still in cache, as the
// right operand of the weight gradient dW = dYᵀ·X (asm.PackBF16B: half
// the input's size), and the backward pass takes the product from the
// packed operand (asm.SgemmBF16PackedB), bit for bit what the product of
// the input would give. The backward pass then reads no values of the
// input, so the caller can hand it back (Drop) right after the forward
// pass instead of keeping it until the backward pass.
type packedInputs interface {
	// packedInputLen returns the length of the packed X (k×n) of an
	// m-row weight gradient in precision p, or 0 where it does not pack.
	packedInputLen(p Precision, m, n, k int) int
	packInput(dst []float32, m, n, k int, x []float32)
	// gemmPackedInput is C (m×n) = Aᵀ·X + beta·C with A stored k×m and
	// X packed by packInput.
	gemmPackedInput(m, n, k int, a []float32, lda int, packed []float32, beta float32, c []float32, ldc int)
}

func (cpuBackend) packedInputLen(p Precision, m, n, k int) int {
	if p != PrecisionBF16 {
		return 0
	}
	return asm.PackedBF16BLen(m, n, k)
}

func (cpuBackend) packInput(dst []float32, m, n, k int, x []float32) {
	asm.PackBF16B(dst, m, n, k, x, n)
}

func (cpuBackend) gemmPackedInput(m, n, k int, a []float32, lda int, packed []float32, beta float32, c []float32, ldc int) {
	asm.SgemmBF16PackedB(true, m, n, k, 1, a, lda, packed, beta, c, ldc)
}

// packLinearInput returns x (rows×in) packed by the backend as the input
// of the weight gradient of a Linear with outF outputs whose output has
// precision p, in a pooled buffer, and the backend that takes the product
// from it; nil where the backend does not pack.
func packLinearInput(p Precision, x []float32, outF, in, rows int) (packedInputs, []float32) {
	pk, ok := backend.(packedInputs)
	if !ok {
		return nil, nil
	}
	n := pk.packedInputLen(p, outF, in, rows)
	if n == 0 {
		return nil, nil
	}
	buf := pool.getExact(n)
	pk.packInput(buf, outF, in, rows, x)
	return pk, buf
}
