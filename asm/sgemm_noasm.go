//go:build (!amd64 && !arm64) || purego

package asm

// archGemmKernel: this build has no assembly kernels.
func archGemmKernel(Level) *gemmKernel { return nil }

// archSmallKernel: this build has no assembly kernels.
func archSmallKernel(Level) *smallKernel { return nil }
