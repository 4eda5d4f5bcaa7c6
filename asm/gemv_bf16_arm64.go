//go:build !purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) {
	if neon() {
		gemvRowBF16NEON(y, x, w, bias)
		return
	}
	gemvRowBF16Generic(y, x, w, bias)
}

func gemvRows4BF16(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int) bool {
	if neon() {
		gemvRows4BF16NEON(y, ldy, x, w, bias, n, k)
		return true
	}
	return false
}

// gemvRows4BF16NEON is gemvRowBF16NEON for the four rows x[r*k:(r+1)*k],
// writing y[r*ldy:r*ldy+n]: len(x) ≥ 4k, len(y) ≥ 3·ldy+n, len(w) ≥ n·k,
// bias empty or at least n long.
//
//go:noescape
func gemvRows4BF16NEON(y []float32, ldy int, x []float32, w []uint16, bias []float32, n, k int)

// gemvRowBF16NEON is gemvRowBF16Generic with NEON (gemv_bf16_arm64.s):
// len(w) ≥ len(y)·len(x); bias empty or at least len(y) long.
//
//go:noescape
func gemvRowBF16NEON(y, x []float32, w []uint16, bias []float32)
