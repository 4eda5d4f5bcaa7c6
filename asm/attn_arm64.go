//go:build !purego

package asm

import "fmt"

// attnGemm computes the tile product of attnGemmGeneric with the variant of
// level l. The NEON kernel needs m%4 == 0 and n%16 == 0, which the
// attention code guarantees by padding; other shapes use the generic loop.
func attnGemm(l Level, c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	if l == NEON && m%4 == 0 && n%16 == 0 && m > 0 && n > 0 {
		if len(c) < (m-1)*ldc+n || (k > 0 && (len(a) < (m-1)*lda+k || len(b) < (k-1)*ldb+n)) || ldc < n || lda < k || ldb < n {
			panic(fmt.Sprintf("asm: attnGemm: m=%d n=%d k=%d ldc=%d lda=%d ldb=%d overrun c %d, a %d, b %d",
				m, n, k, ldc, lda, ldb, len(c), len(a), len(b)))
		}
		var ap, bp *float32
		if k > 0 {
			ap, bp = &a[0], &b[0]
		} else {
			ap, bp = &c[0], &c[0] // not read
		}
		attnGemmNEON(&c[0], ldc, ap, lda, bp, ldb, m, n, k, acc)
		return
	}
	attnGemmGeneric(c, ldc, a, lda, b, ldb, m, n, k, acc)
}

//go:noescape
func attnGemmNEON(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, m, n, k int, acc bool)

// attnPad returns the row and column multiples attnGemm's kernel for l needs.
func attnPad(l Level) (rows, cols int) {
	if l == NEON {
		return 4, 16
	}
	return 2, 8
}

// transpose16 is transposeInto's 16×16 path, which NEON does not take.
func transpose16(Level, []float32, int, []float32, int, int, int) bool { return false }
