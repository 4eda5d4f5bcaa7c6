package tensor

import "github.com/gococa/gococa/asm"

// CPUBF16 returns the CPU backend with its matrix products (Gemm) taken in
// bfloat16: each element of alpha·op(A) and op(B) is rounded to bfloat16
// (nearest even) and the products are summed in float32 (asm.SgemmBF16: on
// VDPBF16PS where the CPU has AVX512_BF16, at twice the float32 FMA rate;
// elsewhere the rounded operands go through the float32 kernels, no
// faster). Everything else (attention, normalisation, elementwise ops, the
// optimizer and the values tensors hold) stays float32, so a training step
// on it is mixed precision: bfloat16 products, float32 master weights,
// gradients and optimizer state.
//
// Products of random unit-variance operands differ from float32's by about
// 2⁻⁸·√k·(their typical magnitude) (bfloat16 keeps 8 significant bits); the
// encoders' normalised features of coca_ViT-B-32 stay within a cosine of
// 0.9999 of float32's (TestCPUBF16Encoders).
//
// Like any backend it is chosen for the whole process with SetBackend, at
// start-up (benchmarks and tests use it so). To take one model's products
// in bfloat16 while others keep float32, mark its parameters instead
// (Tensor.SetPrecision; coca.Model.SetPrecision).
func CPUBF16() Backend { return cpuBF16{} }

type cpuBF16 struct{ cpuBackend }

func (cpuBF16) Name() string { return "cpu-bf16" }

// packedInputLen packs for every product, which it takes in bfloat16
// whatever p.
func (cpuBF16) packedInputLen(_ Precision, m, n, k int) int { return asm.PackedBF16BLen(m, n, k) }

// bf16Products: every product is bfloat16, whatever p.
func (cpuBF16) bf16Products(Precision) bool { return true }

// GemmBias takes its products in bfloat16 whatever p, like Gemm.
func (cb cpuBF16) GemmBias(_ Precision, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	cb.cpuBackend.GemmBias(PrecisionBF16, transA, transB, m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
}

func (cb cpuBF16) Gemm(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC, batch int) {
	cb.GemmProductsBF16(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}
