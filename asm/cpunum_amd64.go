//go:build !purego

package asm

import (
	"runtime"

	"github.com/klauspost/cpuid/v2"
)

var hasRDTSCP = runtime.GOOS == "linux" && cpuid.CPU.Supports(cpuid.RDTSCP)

func cpuNumRDTSCP() int

// CPUNum returns the number of the CPU the calling thread ran on a moment
// ago (Linux on amd64; 0 elsewhere). The caller may have moved since: it
// is a hint for locality, never for correctness.
func CPUNum() int {
	if hasRDTSCP {
		return cpuNumRDTSCP()
	}
	return 0
}
