package asm

import "fmt"

// GemvBF16 computes y = x·Wᵀ + bias for m rows of x (m×k, row-major) and a
// weight matrix W (n×k, row-major) stored in bfloat16 (the high 16 bits of
// a float32), accumulating in float32; bias (n) may be nil. It is the
// matrix-vector product of a decoding step with half-size weights:
//
//	for r := 0; r < m; r++ {
//		for o := 0; o < n; o++ {
//			s := bias[o] // 0 without bias
//			for i := 0; i < k; i++ { s += x[r*k+i] * float32frombits(uint32(w[o*k+i]) << 16) }
//			y[r*n+o] = s
//		}
//	}
//
// It runs on the calling goroutine; callers split the outputs between
// goroutines (GemvBF16Strided writes a block of columns of y).
func GemvBF16(y, x []float32, w []uint16, bias []float32, m, n, k int) {
	GemvBF16Strided(y, n, x, w, bias, m, n, k)
}

// gemvChunkBytes bounds the weights one kernel call reads: a chunk is
// read from memory for the first row of x and from L2 for the others, and
// a call stays far below the time a goroutine may run without a
// preemption point (asm is not preemptible).
const gemvChunkBytes = 64 << 10

// GemvBF16Strided is GemvBF16 with row r of the result at y[r*ldy:],
// ldy ≥ n: the columns [o0, o1) of a wider product are
// GemvBF16Strided(y[o0:], ldy, x, w[o0*k:o1*k], bias[o0:o1], m, o1-o0, k).
//
// Each output is computed the same way whatever m, n, ldy and the CPU's
// alignment: with 16 products per step in two groups of eight lanes
// (lane j of a group takes the elements ≡ j mod 8 of its half of the
// step), then the eight elements of one more step when k mod 16 ≥ 8, the
// two groups added lane by lane and reduced pairwise ((l0+l1)+(l2+l3)) +
// ((l4+l5)+(l6+l7)), then the last k mod 8 products one by one, then the
// bias. So a row of y does not depend on which other rows or columns are
// computed with it (batching and splitting between goroutines do not
// change results); the SIMD variants give the same bits as each other and
// as the Go code when the Go compiler fuses its multiply-adds.
func GemvBF16Strided(y []float32, ldy int, x []float32, w []uint16, bias []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || ldy < n || len(x) < m*k || len(w) < n*k || (m > 0 && len(y) < (m-1)*ldy+n) || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("asm.GemvBF16: m=%d n=%d k=%d ldy=%d with len(y)=%d len(x)=%d len(w)=%d len(bias)=%d", m, n, k, ldy, len(y), len(x), len(w), len(bias)))
	}
	if m == 0 || n == 0 {
		return
	}
	rows := n
	if k > 0 {
		rows = max(4, gemvChunkBytes/(2*k)&^3)
	}
	for o0 := 0; o0 < n; o0 += rows {
		o1 := min(n, o0+rows)
		var b []float32
		if bias != nil {
			b = bias[o0:o1]
		}
		wc := w[o0*k : o1*k]
		r := 0
		// Four rows of x at a time where a kernel does that: each
		// weight is widened once for the four.
		for ; r+4 <= m && gemvRows4BF16(y[r*ldy+o0:], ldy, x[r*k:(r+4)*k], wc, b, o1-o0, k); r += 4 {
		}
		for ; r < m; r++ {
			gemvRowBF16(y[r*ldy+o0:r*ldy+o1], x[r*k:(r+1)*k], wc, b)
		}
	}
}

// DotBF16 returns the inner product of x and the bfloat16 vector w:
//
//	for i := range x { s += x[i] * float32frombits(uint32(w[i]) << 16) }
//
// summed in GemvBF16's order.
func DotBF16(x []float32, w []uint16) float32 {
	if len(x) != len(w) {
		panic(fmt.Sprintf("asm.DotBF16: length mismatch %d != %d", len(x), len(w)))
	}
	var y [1]float32
	gemvRowBF16(y[:], x, w, nil)
	return y[0]
}
