//go:build !purego

package asm

func dotBF16(x []float32, w []uint16) float32 {
	if level == AVX2 || level == AVX512 {
		return dotBF16AVX2(x, w)
	}
	return dotBF16Generic(x, w)
}

// dotBF16AVX2 is DotBF16 with AVX2+FMA (gemv_bf16_amd64.s); len(w) ≥ len(x).
//
//go:noescape
func dotBF16AVX2(x []float32, w []uint16) float32
