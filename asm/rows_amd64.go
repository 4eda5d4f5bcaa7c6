//go:build !purego

package asm

func addRows(dst, src []float32, rows, ld int) {
	switch level {
	case AVX512:
		addRowsAVX512(&dst[0], &src[0], len(dst), rows, ld)
	case AVX2:
		n8 := len(dst) &^ 7
		if n8 > 0 {
			addRowsAVX2(&dst[0], &src[0], n8, rows, ld)
		}
		if n8 < len(dst) {
			addRowsGeneric(dst[n8:], src[n8:], rows, ld)
		}
	default:
		addRowsGeneric(dst, src, rows, ld)
	}
}

// addRowsAVX512 is AddRows for AVX-512F (rows_amd64.s): blocks of 128
// columns, one of 64 (in 256-bit registers), 16 at a time, then the
// masked rest; rows ≥ 1, cols ≥ 1.
//
//go:noescape
func addRowsAVX512(dst, src *float32, cols, rows, ld int)

// addRowsAVX2 is AddRows for AVX2 on cols a multiple of 8: blocks of 64
// and 8 columns; rows ≥ 1.
//
//go:noescape
func addRowsAVX2(dst, src *float32, cols, rows, ld int)
