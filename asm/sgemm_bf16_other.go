//go:build !amd64 || purego

package asm

// bf16KernelFor returns nil: no bfloat16 kernels on this architecture or
// build; SgemmBF16 rounds and uses the float32 kernels.
func bf16KernelFor(Level) *gemmKernel { return nil }
