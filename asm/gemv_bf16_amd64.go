//go:build !purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) {
	if level == AVX2 || level == AVX512 {
		gemvRowBF16AVX2(y, x, w, bias)
		return
	}
	gemvRowBF16Generic(y, x, w, bias)
}

// gemvRowBF16AVX2 is gemvRowBF16Generic with AVX2+FMA (gemv_bf16_amd64.s):
// len(w) ≥ len(y)·len(x); bias empty or at least len(y) long.
//
//go:noescape
func gemvRowBF16AVX2(y, x []float32, w []uint16, bias []float32)
