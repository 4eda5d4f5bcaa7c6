//go:build !purego

package asm

// sgemmSmallTAVX2 and sgemmSmallNAVX2 are smallKernel.dotT and axpyN for
// AVX2+FMA (sgemm_small_amd64.s); accum is 0 or 1.
//
//go:noescape
func sgemmSmallTAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

//go:noescape
func sgemmSmallNAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

func accumFlag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The AVX-512 level uses the AVX2 kernels: reading B from memory, not the
// arithmetic, bounds the small-M GEMM.
var avx2Small = &smallKernel{
	name: "avx2",
	dotT: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallTAVX2(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
	axpyN: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallNAVX2(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
}

func archSmallKernel(l Level) *smallKernel {
	if l == AVX2 || l == AVX512 {
		return avx2Small
	}
	return nil
}
