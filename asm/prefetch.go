//go:build (amd64 || arm64) && !purego

package asm

// prefetchRows asks for the cache lines that rows rows of cols floats,
// stride floats apart from p, touch to be brought into the L1 cache. It is a
// hint: it reads and writes nothing, and an address outside the process's
// memory does not fault.
//
//go:noescape
func prefetchRows(p *float32, stride, cols, rows int)
