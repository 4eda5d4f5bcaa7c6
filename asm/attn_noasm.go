//go:build (!amd64 && !arm64) || purego

package asm

func attnGemm(l Level, c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	attnGemmGeneric(c, ldc, a, lda, b, ldb, m, n, k, acc)
}

// attnPad returns the row and column multiples attnGemm's kernel for l needs.
func attnPad(l Level) (rows, cols int) { return 2, 8 }

func transpose16(Level, []float32, int, []float32, int, int, int) bool { return false }
