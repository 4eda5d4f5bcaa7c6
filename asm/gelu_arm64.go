//go:build !purego

package asm

// NEON covers the exact GELU; the tanh and quick variants use the generic
// code on arm64.

func geluVec(dst, x []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		geluNEON(dst[:n4], x[:n4])
		geluGeneric(dst[n4:], x[n4:])
		return
	}
	geluGeneric(dst, x)
}

func geluBackwardVec(dx, x, dy []float32) {
	if neon() {
		n4 := len(dx) &^ 3
		geluBackwardNEON(dx[:n4], x[:n4], dy[:n4])
		geluBackwardGeneric(dx[n4:], x[n4:], dy[n4:])
		return
	}
	geluBackwardGeneric(dx, x, dy)
}

func geluTanhVec(dst, x []float32)            { geluTanhGeneric(dst, x) }
func geluTanhBackwardVec(dx, x, dy []float32) { geluTanhBackwardGeneric(dx, x, dy) }
func quickGeluVec(dst, x []float32)           { quickGeluGeneric(dst, x) }
func quickGeluBackwardVec(dx, x, dy []float32) {
	quickGeluBackwardGeneric(dx, x, dy)
}

//go:noescape
func geluNEON(dst, x []float32)

//go:noescape
func geluBackwardNEON(dx, x, dy []float32)
