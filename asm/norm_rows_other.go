//go:build !amd64 || purego

package asm

// Only amd64's AVX2 and AVX-512 levels run LayerNormRows and
// LayerNormRowsBackward in one assembly loop; elsewhere they go row by row.

func layerNormRowsArch(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) bool {
	return false
}

func layerNormRowsBwdArch(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int) bool {
	return false
}
