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
// Each weight row is read from memory once for all m rows of x. It runs on
// the calling goroutine; callers split the outputs between goroutines.
func GemvBF16(y, x []float32, w []uint16, bias []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || len(x) < m*k || len(w) < n*k || len(y) < m*n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("asm.GemvBF16: m=%d n=%d k=%d with len(y)=%d len(x)=%d len(w)=%d len(bias)=%d", m, n, k, len(y), len(x), len(w), len(bias)))
	}
	for o := 0; o < n; o++ {
		row := w[o*k : (o+1)*k]
		var b float32
		if bias != nil {
			b = bias[o]
		}
		for r := 0; r < m; r++ {
			y[r*n+o] = b + dotBF16(x[r*k:(r+1)*k], row)
		}
	}
}

// DotBF16 returns the inner product of x and the bfloat16 vector w:
//
//	for i := range x { s += x[i] * float32frombits(uint32(w[i]) << 16) }
func DotBF16(x []float32, w []uint16) float32 {
	if len(x) != len(w) {
		panic(fmt.Sprintf("asm.DotBF16: length mismatch %d != %d", len(x), len(w)))
	}
	return dotBF16(x, w)
}
