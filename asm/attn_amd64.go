//go:build !purego

package asm

import "fmt"

// attnGemm computes the tile product of attnGemmGeneric with the variant of
// level l. The kernels need m and n to be multiples of attnPad(l), which the
// attention code guarantees by padding; other shapes use the generic loop.
func attnGemm(l Level, c []float32, ldc int, a []float32, lda int, b []float32, ldb int, m, n, k int, acc bool) {
	rp, cp := attnPad(l)
	if l != Generic && m%rp == 0 && n%cp == 0 && m > 0 && n > 0 {
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
		if l == AVX512 {
			attnGemmAVX512(&c[0], ldc, ap, lda, bp, ldb, m, n, k, 1, acc)
		} else {
			attnGemmAVX2(&c[0], ldc, ap, lda, bp, ldb, m, n, k, acc)
		}
		return
	}
	attnGemmGeneric(c, ldc, a, lda, b, ldb, m, n, k, acc)
}

//go:noescape
func attnGemmAVX2(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, m, n, k int, acc bool)

//go:noescape
func attnGemmAVX512(c *float32, ldc int, a *float32, lda int, b *float32, ldb int, m, n, k, kst int, acc bool)

// attnGemmTArch computes attnGemmT's product without a copy when level l
// has a kernel for it (AVX-512, which reads Aᵀ with its k stride); false:
// not handled.
func attnGemmTArch(l Level, c []float32, ldc int, at []float32, ldat int, b []float32, ldb int, m, n, k int, acc bool) bool {
	rp, cp := attnPad(l)
	if l != AVX512 || m%rp != 0 || n%cp != 0 || m <= 0 || n <= 0 || k <= 0 {
		return false
	}
	if len(c) < (m-1)*ldc+n || len(at) < (k-1)*ldat+m || len(b) < (k-1)*ldb+n || ldc < n || ldat < m || ldb < n {
		panic(fmt.Sprintf("asm: attnGemmT: m=%d n=%d k=%d ldc=%d ldat=%d ldb=%d overrun c %d, at %d, b %d",
			m, n, k, ldc, ldat, ldb, len(c), len(at), len(b)))
	}
	attnGemmAVX512(&c[0], ldc, &at[0], 1, &b[0], ldb, m, n, k, ldat, acc)
	return true
}

// attnPad returns the row and column multiples attnGemm's kernel for l needs.
func attnPad(l Level) (rows, cols int) {
	if l == AVX512 {
		return 2, 16
	}
	return 2, 8
}

// attnRowsFwdArch runs attnRowsFwd's AVX-512 loop; false: not handled.
func attnRowsFwdArch(l Level, s []float32, ld int, lim []int32, mIn, mOut, sum []float32) bool {
	if l != AVX512 || ld <= 0 || ld%16 != 0 {
		return false
	}
	attnRowsFwdAVX512(&s[0], ld, &lim[0], &mIn[0], &mOut[0], &sum[0], len(lim))
	return true
}

// attnRowsBwdArch runs attnRowsBwd's AVX-512 loop; false: not handled.
func attnRowsBwdArch(l Level, s, dp []float32, ld int, lim []int32, lse, dd []float32) bool {
	if l != AVX512 || ld <= 0 || ld%16 != 0 {
		return false
	}
	attnRowsBwdAVX512(&s[0], &dp[0], ld, &lim[0], &lse[0], &dd[0], len(lim))
	return true
}

//go:noescape
func attnRowsFwdAVX512(s *float32, ld int, lim *int32, mIn, mOut, sum *float32, rows int)

//go:noescape
func attnRowsBwdAVX512(s, dp *float32, ld int, lim *int32, lse, dd *float32, rows int)

// attnScaleRowsArch runs attnScaleRows's AVX-512 loop; false: not handled.
func attnScaleRowsArch(l Level, dst []float32, ldd int, src []float32, lds int, ls []float32, d int) bool {
	if l != AVX512 || len(ls) == 0 || d <= 0 {
		return false
	}
	attnScaleRowsAVX512(&dst[0], ldd, &src[0], lds, &ls[0], len(ls), d)
	return true
}

//go:noescape
func attnScaleRowsAVX512(dst *float32, ldd int, src *float32, lds int, l *float32, rows, d int)

// transpose16AVX512 transposes a block of rows (at most 16) rows of 16
// floats (lds apart) into 16 rows of 16 (ldd apart), the columns past
// rows zero.
//
//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int, rows int)

// transpose16 is transposeInto where the level has 16×16 transposes
// (AVX512) and the block suits them: cols and ldd multiples of 16. It
// transposes the rows in blocks of 16, the last one short, and writes
// the zero columns up to ldd with them, and reports whether it did.
func transpose16(l Level, dst []float32, ldd int, src []float32, lds, rows, cols int) bool {
	if l != AVX512 || cols%16 != 0 || ldd%16 != 0 || rows > ldd {
		return false
	}
	_ = dst[(cols-1)*ldd+ldd-1]
	if rows > 0 {
		_ = src[(rows-1)*lds+cols-1]
	}
	for c := 0; c < cols; c += 16 {
		for r := 0; r < ldd; r += 16 {
			n := min(16, max(0, rows-r))
			s := &dst[0] // not read when n is 0
			if n > 0 {
				s = &src[r*lds+c]
			}
			transpose16AVX512(&dst[c*ldd+r], ldd, s, lds, n)
		}
	}
	return true
}
