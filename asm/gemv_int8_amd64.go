//go:build !purego

package asm

func gemvRowInt8(y, x []float32, w []int8, scale, bias []float32) {
	if level == AVX2 || level == AVX512 {
		gemvRowInt8AVX2(y, x, w, scale, bias)
		return
	}
	gemvRowInt8Generic(y, x, w, scale, bias)
}

func gemvRows4Int8(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int) bool {
	if level == AVX2 || level == AVX512 {
		gemvRows4Int8AVX2(y, ldy, x, w, scale, bias, n, k)
		return true
	}
	return false
}

// gemvRows4Int8AVX2 is gemvRowInt8AVX2 for the four rows x[r*k:(r+1)*k],
// writing y[r*ldy:r*ldy+n]: len(x) ≥ 4k, len(y) ≥ 3·ldy+n, len(w) ≥ n·k,
// len(scale) ≥ n, bias empty or at least n long.
//
//go:noescape
func gemvRows4Int8AVX2(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int)

// gemvRowInt8AVX2 is gemvRowInt8Generic with AVX2+FMA (gemv_int8_amd64.s):
// len(w) ≥ len(y)·len(x), len(scale) ≥ len(y); bias empty or at least
// len(y) long.
//
//go:noescape
func gemvRowInt8AVX2(y, x []float32, w []int8, scale, bias []float32)
