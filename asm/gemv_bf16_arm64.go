//go:build !purego

package asm

func gemvRowBF16(y, x []float32, w []uint16, bias []float32) {
	if neon() {
		gemvRowBF16NEON(y, x, w, bias)
		return
	}
	gemvRowBF16Generic(y, x, w, bias)
}

// gemvRowBF16NEON is gemvRowBF16Generic with NEON (gemv_bf16_arm64.s):
// len(w) ≥ len(y)·len(x); bias empty or at least len(y) long.
//
//go:noescape
func gemvRowBF16NEON(y, x []float32, w []uint16, bias []float32)
