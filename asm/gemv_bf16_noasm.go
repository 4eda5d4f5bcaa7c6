//go:build (!amd64 && !arm64) || purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) { gemvRowBF16Generic(y, x, w, bias) }
