//go:build !amd64 || purego

package asm

// Elsewhere AddRows is a loop of Axpy calls (NEON's on arm64).
func addRows(dst, src []float32, rows, ld int) { addRowsGeneric(dst, src, rows, ld) }
