//go:build !amd64 || purego

package asm

// Only the AVX-512 level has the one-call row passes, the in-place
// transposed tile product and the row scaling of attention; elsewhere
// these report false and the callers run the portable code.

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
