//go:build !purego

package asm

import "github.com/klauspost/cpuid/v2"

// hostLevels lists the assembly levels this amd64 CPU supports, lowest first.
func hostLevels() []Level {
	var ls []Level
	if cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) {
		ls = append(ls, AVX2)
		if cpuid.CPU.Supports(cpuid.AVX512F) {
			ls = append(ls, AVX512)
		}
	}
	return ls
}
