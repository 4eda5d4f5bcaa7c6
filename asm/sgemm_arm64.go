//go:build !purego

package asm

// archGemmKernel: the NEON kernel is not written yet; NEON runs the generic
// reference.
func archGemmKernel(Level) *gemmKernel { return nil }
