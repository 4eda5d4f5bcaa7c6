//go:build !purego

package asm

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

func geluDerivVec(dst, deriv, x []float32) { geluDerivPasses(dst, deriv, x) }

func geluTanhVec(dst, x []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		geluTanhNEON(dst[:n4], x[:n4])
		geluTanhGeneric(dst[n4:], x[n4:])
		return
	}
	geluTanhGeneric(dst, x)
}

func geluTanhBackwardVec(dx, x, dy []float32) {
	if neon() {
		n4 := len(dx) &^ 3
		geluTanhBackwardNEON(dx[:n4], x[:n4], dy[:n4])
		geluTanhBackwardGeneric(dx[n4:], x[n4:], dy[n4:])
		return
	}
	geluTanhBackwardGeneric(dx, x, dy)
}

func quickGeluVec(dst, x []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		quickGeluNEON(dst[:n4], x[:n4])
		quickGeluGeneric(dst[n4:], x[n4:])
		return
	}
	quickGeluGeneric(dst, x)
}

func quickGeluBackwardVec(dx, x, dy []float32) {
	if neon() {
		n4 := len(dx) &^ 3
		quickGeluBackwardNEON(dx[:n4], x[:n4], dy[:n4])
		quickGeluBackwardGeneric(dx[n4:], x[n4:], dy[n4:])
		return
	}
	quickGeluBackwardGeneric(dx, x, dy)
}

//go:noescape
func geluNEON(dst, x []float32)

//go:noescape
func geluBackwardNEON(dx, x, dy []float32)

//go:noescape
func geluTanhNEON(dst, x []float32)

//go:noescape
func geluTanhBackwardNEON(dx, x, dy []float32)

//go:noescape
func quickGeluNEON(dst, x []float32)

//go:noescape
func quickGeluBackwardNEON(dx, x, dy []float32)
