//go:build !purego

package asm

// Level AVX512 uses the AVX-512 kernels where there are some (dot, axpy)
// and the AVX2 ones otherwise.

func dot(x, y []float32) float32 {
	if level == AVX512 {
		return dotAVX512(x, y)
	}
	if level == AVX2 {
		return dotAVX2(x, y)
	}
	return dotGeneric(x, y)
}

func axpy(alpha float32, x, y []float32) {
	if level == AVX512 {
		axpyAVX512(alpha, x, y)
		return
	}
	if level == AVX2 {
		axpyAVX2(alpha, x, y)
		return
	}
	axpyGeneric(alpha, x, y)
}

func scale(alpha float32, x []float32) {
	if level == AVX2 || level == AVX512 {
		scaleAVX2(alpha, x)
		return
	}
	scaleGeneric(alpha, x)
}

func add(dst, x, y []float32) {
	if level == AVX2 || level == AVX512 {
		addAVX2(dst, x, y)
		return
	}
	addGeneric(dst, x, y)
}

func mul(dst, x, y []float32) {
	if level == AVX2 || level == AVX512 {
		mulAVX2(dst, x, y)
		return
	}
	mulGeneric(dst, x, y)
}

func sum(x []float32) float32 {
	if level == AVX2 || level == AVX512 {
		return sumAVX2(x)
	}
	return sumGeneric(x)
}

func vmax(x []float32) float32 {
	if level == AVX2 || level == AVX512 {
		return maxAVX2(x)
	}
	return maxGeneric(x)
}

// AVX2+FMA variants (vec_amd64.s); lengths are those of x (add, mul: dst),
// checked by the callers.

//go:noescape
func dotAVX2(x, y []float32) float32

//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

//go:noescape
func scaleAVX2(alpha float32, x []float32)

//go:noescape
func addAVX2(dst, x, y []float32)

//go:noescape
func mulAVX2(dst, x, y []float32)

//go:noescape
func sumAVX2(x []float32) float32

//go:noescape
func maxAVX2(x []float32) float32

//go:noescape
func dotAVX512(x, y []float32) float32

//go:noescape
func axpyAVX512(alpha float32, x, y []float32)
