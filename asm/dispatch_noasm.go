//go:build (!amd64 && !arm64) || purego

package asm

// hostLevels: this build has no assembly.
func hostLevels() []Level { return nil }
