//go:build (!amd64 && !arm64) || purego

package asm

func gemvRowInt8(y, x []float32, w []int8, scale, bias []float32) {
	gemvRowInt8Generic(y, x, w, scale, bias)
}

func gemvRows4Int8(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int) bool {
	return false
}
