//go:build !purego

package asm

func avx2() bool { return level == AVX2 || level == AVX512 }

func geluVec(dst, x []float32) {
	if level == AVX512 {
		geluAVX512(dst, x)
		return
	}
	if avx2() {
		geluAVX2(dst, x)
		return
	}
	geluGeneric(dst, x)
}

func geluBackwardVec(dx, x, dy []float32) {
	if level == AVX512 {
		geluBackwardAVX512(dx, x, dy)
		return
	}
	if avx2() {
		geluBackwardAVX2(dx, x, dy)
		return
	}
	geluBackwardGeneric(dx, x, dy)
}

func geluDerivVec(dst, deriv, x []float32) {
	if level == AVX512 {
		geluDerivAVX512(dst, deriv, x)
		return
	}
	geluDerivPasses(dst, deriv, x)
}

func geluTanhVec(dst, x []float32) {
	if avx2() {
		geluTanhAVX2(dst, x)
		return
	}
	geluTanhGeneric(dst, x)
}

func geluTanhBackwardVec(dx, x, dy []float32) {
	if avx2() {
		geluTanhBackwardAVX2(dx, x, dy)
		return
	}
	geluTanhBackwardGeneric(dx, x, dy)
}

func quickGeluVec(dst, x []float32) {
	if avx2() {
		quickGeluAVX2(dst, x)
		return
	}
	quickGeluGeneric(dst, x)
}

func quickGeluBackwardVec(dx, x, dy []float32) {
	if avx2() {
		quickGeluBackwardAVX2(dx, x, dy)
		return
	}
	quickGeluBackwardGeneric(dx, x, dy)
}

//go:noescape
func geluAVX2(dst, x []float32)

// geluAVX512 and geluBackwardAVX512 (gelu512_amd64.s) are bit-identical to
// geluAVX2 and geluBackwardAVX2, sixteen lanes at a time.
//
//go:noescape
func geluAVX512(dst, x []float32)

//go:noescape
func geluBackwardAVX512(dx, x, dy []float32)

// geluDerivAVX512 is GeluDeriv in one pass (see gelu512_amd64.s).
//
//go:noescape
func geluDerivAVX512(dst, deriv, x []float32)

//go:noescape
func geluBackwardAVX2(dx, x, dy []float32)

//go:noescape
func geluTanhAVX2(dst, x []float32)

//go:noescape
func geluTanhBackwardAVX2(dx, x, dy []float32)

//go:noescape
func quickGeluAVX2(dst, x []float32)

//go:noescape
func quickGeluBackwardAVX2(dx, x, dy []float32)
