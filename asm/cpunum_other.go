//go:build !amd64 || purego

package asm

// CPUNum returns the number of the CPU the calling thread ran on a moment
// ago where that is cheap to know (Linux on amd64), else 0. The caller may
// have moved since: it is a hint for locality, never for correctness.
func CPUNum() int { return 0 }
