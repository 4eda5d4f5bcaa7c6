//go:build !purego

package asm

// NEON kernels take lengths that are multiples of 4; these wrappers run the
// last n%4 elements through the generic code.

func neon() bool { return level == NEON }

func dot(x, y []float32) float32 {
	if neon() {
		n4 := len(x) &^ 3
		return dotNEON(x[:n4], y[:n4]) + dotGeneric(x[n4:], y[n4:len(x)])
	}
	return dotGeneric(x, y)
}

func axpy(alpha float32, x, y []float32) {
	if neon() {
		n4 := len(x) &^ 3
		axpyNEON(alpha, x[:n4], y[:n4])
		axpyGeneric(alpha, x[n4:], y[n4:len(x)])
		return
	}
	axpyGeneric(alpha, x, y)
}

func scale(alpha float32, x []float32) {
	if neon() {
		n4 := len(x) &^ 3
		scaleNEON(alpha, x[:n4])
		scaleGeneric(alpha, x[n4:])
		return
	}
	scaleGeneric(alpha, x)
}

func add(dst, x, y []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		addNEON(dst[:n4], x[:n4], y[:n4])
		addGeneric(dst[n4:], x[n4:], y[n4:])
		return
	}
	addGeneric(dst, x, y)
}

func mul(dst, x, y []float32) {
	if neon() {
		n4 := len(dst) &^ 3
		mulNEON(dst[:n4], x[:n4], y[:n4])
		mulGeneric(dst[n4:], x[n4:], y[n4:])
		return
	}
	mulGeneric(dst, x, y)
}

func sum(x []float32) float32 {
	if neon() {
		n4 := len(x) &^ 3
		return sumNEON(x[:n4]) + sumGeneric(x[n4:])
	}
	return sumGeneric(x)
}

func vmax(x []float32) float32 {
	if neon() {
		n4 := len(x) &^ 3
		return max(maxNEON(x[:n4]), maxGeneric(x[n4:]))
	}
	return maxGeneric(x)
}

//go:noescape
func dotNEON(x, y []float32) float32

//go:noescape
func axpyNEON(alpha float32, x, y []float32)

//go:noescape
func scaleNEON(alpha float32, x []float32)

//go:noescape
func addNEON(dst, x, y []float32)

//go:noescape
func mulNEON(dst, x, y []float32)

//go:noescape
func sumNEON(x []float32) float32

//go:noescape
func maxNEON(x []float32) float32
