//go:build !amd64 || purego

package asm

func dotBF16(x []float32, w []uint16) float32 { return dotBF16Generic(x, w) }
