package asm

import "fmt"

// AddRows adds rows rows of src into dst: row r is src[r·ld : r·ld+len(dst)],
//
//	for r := 0; r < rows; r++ { for j := range dst { dst[j] += src[r*ld+j] } }
//
// in that order (the result of Axpy(1, row, dst) for each row in turn, bit
// for bit; a NaN need only be a NaN): a bias gradient, the column sums of a
// layer's output gradient. The assembly kernels keep a block of dst in
// registers while the rows pass, where a loop of Axpy calls loads and
// stores dst once per row. Rows may overlap (ld < len(dst), 0 included).
// It panics, naming the sizes, when rows or ld is negative or src is too
// short.
func AddRows(dst, src []float32, rows, ld int) {
	n := len(dst)
	if rows < 0 || ld < 0 || (rows > 0 && n > 0 && len(src) < (rows-1)*ld+n) {
		panic(fmt.Sprintf("asm.AddRows: %d rows of %d (row stride %d) from %d values", rows, n, ld, len(src)))
	}
	if rows == 0 || n == 0 {
		return
	}
	addRows(dst, src, rows, ld)
}

// addRowsGeneric is AddRows as a loop of Axpy calls at the current level.
func addRowsGeneric(dst, src []float32, rows, ld int) {
	n := len(dst)
	for r := range rows {
		axpy(1, src[r*ld:r*ld+n], dst)
	}
}
