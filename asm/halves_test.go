package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemmHalvesBitIdentical checks that a GEMM split into one strip per
// goroutine (halves) gives C bit for bit equal to the same GEMM on one
// goroutine and to the shared-panel split, for both strip directions and
// every transpose, with beta ≠ 0 and k spanning several kc blocks.
func TestSgemmHalvesBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, l := range allLevels {
		if !Supported(l) || l == Generic {
			continue
		}
		kn := gemmKernelFor(l)
		for _, s := range [][3]int{
			{200, 16 * 2 * kn.nr, 600}, // more column tiles: split N
			{600, 16 * kn.nr, 300},     // more row tiles: split M
		} {
			m, n, k := s[0], s[1], s[2]
			if !kn.halves(2, m, n) {
				t.Fatalf("%v %dx%d: halves is false, the test would not reach the strips", l, m, n)
			}
			for tr := 0; tr < 4; tr++ {
				transA, transB := tr&1 != 0, tr&2 != 0
				a, b, c0 := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
				for i := range a {
					a[i] = rng.Float32()*2 - 1
				}
				for i := range b {
					b[i] = rng.Float32()*2 - 1
				}
				for i := range c0 {
					c0[i] = rng.Float32()*2 - 1
				}
				lda, ldb := k, n
				if transA {
					lda = m
				}
				if transB {
					ldb = k
				}
				run := func(f func(c []float32)) []float32 {
					c := append([]float32(nil), c0...)
					f(c)
					return c
				}
				serial := run(func(c []float32) {
					sgemmSerial(kn, transA, transB, m, n, k, 1.25, a, lda, b, ldb, 0.5, c, n)
				})
				shared := run(func(c []float32) {
					kn.gemmShared(2, transA, transB, m, n, k, 1.25, a, lda, b, ldb, 0.5, c, n)
				})
				for _, threads := range []int{2, 3} {
					got := run(func(c []float32) {
						sgemmParallel(kn, threads, transA, transB, m, n, k, 1.25, a, lda, b, ldb, 0.5, c, n)
					})
					name := fmt.Sprintf("%v %dx%dx%d transA=%v transB=%v threads=%d", l, m, n, k, transA, transB, threads)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(serial[i]) || math.Float32bits(got[i]) != math.Float32bits(shared[i]) {
							t.Fatalf("%s: C[%d] = %g, one goroutine %g, shared panels %g", name, i, got[i], serial[i], shared[i])
						}
					}
				}
			}
		}
	}
}
