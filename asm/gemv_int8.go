package asm

import "fmt"

// GemvInt8 computes y = x·Wᵀ scaled per output + bias for m rows of x
// (m×k, row-major) and a weight matrix W (n×k, row-major) stored as int8
// with one float32 scale per row of W (scale at least n long), accumulating
// in float32; bias (n) may be nil. It is the matrix-vector product of a
// decoding step with quarter-size weights:
//
//	for r := 0; r < m; r++ {
//		for o := 0; o < n; o++ {
//			s := float32(0)
//			for i := 0; i < k; i++ { s += x[r*k+i] * float32(w[o*k+i]) }
//			y[r*n+o] = float32(s*scale[o]) + bias[o] // the product rounded; no bias: float32(s*scale[o])
//		}
//	}
//
// It runs on the calling goroutine; callers split the outputs between
// goroutines (GemvInt8Strided writes a block of columns of y).
func GemvInt8(y, x []float32, w []int8, scale, bias []float32, m, n, k int) {
	GemvInt8Strided(y, n, x, w, scale, bias, m, n, k)
}

// GemvInt8Strided is GemvInt8 with row r of the result at y[r*ldy:],
// ldy ≥ n: the columns [o0, o1) of a wider product are
// GemvInt8Strided(y[o0:], ldy, x, w[o0*k:o1*k], scale[o0:o1], bias[o0:o1], m, o1-o0, k).
//
// Each sum is computed in GemvBF16Strided's order, with float32(w) (exact)
// in place of the widened bfloat16: 16 products per step in two groups of
// eight lanes (lane j of a group takes the elements ≡ j mod 8 of its half
// of the step), then the eight elements of one more step when k mod 16 ≥ 8,
// the two groups added lane by lane and reduced pairwise ((l0+l1)+(l2+l3))
// + ((l4+l5)+(l6+l7)), then the last k mod 8 products one by one; then
// the sum is multiplied by scale[o] (rounded) and the bias added. So a row
// of y does not depend on which other rows or columns are computed with it
// (batching and splitting between goroutines do not change results); the
// SIMD variants give the same bits as each other and as the Go code when
// the Go compiler fuses its multiply-adds.
func GemvInt8Strided(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || ldy < n || len(x) < m*k || len(w) < n*k || (m > 0 && len(y) < (m-1)*ldy+n) || len(scale) < n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("asm.GemvInt8: m=%d n=%d k=%d ldy=%d with len(y)=%d len(x)=%d len(w)=%d len(scale)=%d len(bias)=%d", m, n, k, ldy, len(y), len(x), len(w), len(scale), len(bias)))
	}
	if m == 0 || n == 0 {
		return
	}
	rows := n
	if k > 0 {
		rows = max(4, gemvChunkBytes/k&^3)
	}
	for o0 := 0; o0 < n; o0 += rows {
		o1 := min(n, o0+rows)
		var b []float32
		if bias != nil {
			b = bias[o0:o1]
		}
		wc, sc := w[o0*k:o1*k], scale[o0:o1]
		r := 0
		// Four rows of x at a time where a kernel does that: each
		// weight is widened once for the four.
		for ; r+4 <= m && gemvRows4Int8(y[r*ldy+o0:], ldy, x[r*k:(r+4)*k], wc, sc, b, o1-o0, k); r += 4 {
		}
		for ; r < m; r++ {
			gemvRowInt8(y[r*ldy+o0:r*ldy+o1], x[r*k:(r+1)*k], wc, sc, b)
		}
	}
}
