//go:build !purego

package asm

func attnGemm(l Level, c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	attnGemmGeneric(c, ldc, a, lda, b, ldb, m, n, k, acc)
}
