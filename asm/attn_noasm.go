//go:build (!amd64 && !arm64) || purego

package asm

func attnGemm(l Level, c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	attnGemmGeneric(c, ldc, a, lda, b, ldb, m, n, k, acc)
}

// attnPad returns the row and column multiples attnGemm's kernel for l needs.
func attnPad(l Level) (rows, cols int) { return 2, 8 }

func attnRowsFwdArch(Level, []float32, int, []int32, []float32, []float32, []float32) bool {
	return false
}

func attnRowsBwdArch(Level, []float32, []float32, int, []int32, []float32, []float32) bool {
	return false
}

func attnGemmTArch(Level, []float32, int, []float32, int, []float32, int, int, int, int, bool) bool {
	return false
}

func attnScaleRowsArch(Level, []float32, int, []float32, int, []float32, int) bool { return false }
