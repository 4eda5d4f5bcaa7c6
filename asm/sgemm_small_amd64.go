//go:build !purego

package asm

// sgemmSmallTAVX2 and sgemmSmallNAVX2 are smallKernel.dotT and axpyN for
// AVX2+FMA (sgemm_small_amd64.s); accum is 0 or 1.
//
//go:noescape
func sgemmSmallTAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

//go:noescape
func sgemmSmallNAVX2(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

// sgemmDotTAVX512 is smallKernel.dotT for AVX-512F with groups of 8 rows
// of B (sgemm_dot_amd64.s); accum is 0 or 1.
//
//go:noescape
func sgemmDotTAVX512(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, m, n, k, accum int)

func accumFlag(b bool) int {
	if b {
		return 1
	}
	return 0
}

var avx2Small = &smallKernel{
	name: "avx2",
	dotT: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallTAVX2(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
	axpyN: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmSmallNAVX2(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
}

// avx512Small reads B stored n×k in place for up to dotMaxM rows of A
// (the projections of a batch-1 image or a few captions, x·Wᵀ, where
// packing Wᵀ would cost as much as the product), summing 8 rows of B
// against 3 rows of A at a time over k blocks of 768 (a 24 KiB group of B
// in L1). Its axpy form is AVX2's: reading B from memory, not the
// arithmetic, bounds that one.
var avx512Small = &smallKernel{
	name: "avx512", tn: 8, dotMaxM: 128, dotKC: 768,
	dotT: func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, accum bool) {
		sgemmDotTAVX512(&a[0], lda, &b[0], ldb, &c[0], ldc, m, n, k, accumFlag(accum))
	},
	axpyN: avx2Small.axpyN,
}

func archSmallKernel(l Level) *smallKernel {
	switch l {
	case AVX2:
		return avx2Small
	case AVX512:
		return avx512Small
	}
	return nil
}
