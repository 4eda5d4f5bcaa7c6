//go:build (!amd64 && !arm64) || purego

package asm

// prefetchRows is a no-op where there is no prefetch instruction to call.
func prefetchRows(p *float32, stride, cols, rows int) {}
