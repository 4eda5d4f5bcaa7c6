//go:build !purego

package asm

import "github.com/klauspost/cpuid/v2"

// hostLevels lists the assembly levels this arm64 CPU supports.
func hostLevels() []Level {
	if cpuid.CPU.Supports(cpuid.ASIMD) {
		return []Level{NEON}
	}
	return nil
}
