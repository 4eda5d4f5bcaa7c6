//go:build !purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) {
	if level == AVX2 || level == AVX512 {
		gemvRowBF16AVX2(y, x, w, bias)
		return
	}
	gemvRowBF16Generic(y, x, w, bias)
}

func gemvRows4BF16(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int) bool {
	if level == AVX2 || level == AVX512 {
		gemvRows4BF16AVX2(y, ldy, x, w, bias, n, k)
		return true
	}
	return false
}

// gemvRows4BF16AVX2 is gemvRowBF16AVX2 for the four rows x[r*k:(r+1)*k],
// writing y[r*ldy:r*ldy+n]: len(x) ≥ 4k, len(y) ≥ 3·ldy+n, len(w) ≥ n·k,
// bias empty or at least n long.
//
//go:noescape
func gemvRows4BF16AVX2(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int)

// gemvRowBF16AVX2 is gemvRowBF16Generic with AVX2+FMA (gemv_bf16_amd64.s):
// len(w) ≥ len(y)·len(x); bias empty or at least len(y) long.
//
//go:noescape
func gemvRowBF16AVX2(y, x []float32, w []uint16, bias []float32)
