//go:build !purego

package asm

func gemvRowInt8(y, x []float32, w []int8, scale, bias []float32) {
	if neon() {
		gemvRowInt8NEON(y, x, w, scale, bias)
		return
	}
	gemvRowInt8Generic(y, x, w, scale, bias)
}

func gemvRows4Int8(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int) bool {
	if neon() {
		gemvRows4Int8NEON(y, ldy, x, w, scale, bias, n, k)
		return true
	}
	return false
}

// gemvRows4Int8NEON is gemvRowInt8NEON for the four rows x[r*k:(r+1)*k],
// writing y[r*ldy:r*ldy+n]: len(x) ≥ 4k, len(y) ≥ 3·ldy+n, len(w) ≥ n·k,
// len(scale) ≥ n, bias empty or at least n long.
//
//go:noescape
func gemvRows4Int8NEON(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, n, k int)

// gemvRowInt8NEON is gemvRowInt8Generic with NEON (gemv_int8_arm64.s):
// len(w) ≥ len(y)·len(x), len(scale) ≥ len(y); bias empty or at least
// len(y) long.
//
//go:noescape
func gemvRowInt8NEON(y, x []float32, w []int8, scale, bias []float32)
