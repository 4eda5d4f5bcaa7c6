//go:build (!amd64 && !arm64) || purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) { gemvRowBF16Generic(y, x, w, bias) }

func gemvRows4BF16(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int) bool {
	return false
}
