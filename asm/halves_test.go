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
		for _, s := range []struct {
			m, n, k int
			alpha   float32
		}{
			{200, 16 * 2 * kn.nr, 600, 1.25}, // A smaller: split N
			{600, 16 * kn.nr, 300, 1.25},     // B smaller: split M
			{600, 16 * kn.nr, 300, 1},        // split N where A is read in place
		} {
			m, n, k, alpha := s.m, s.n, s.k, s.alpha
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
					sgemmSerial(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, 0.5, c, n, nil)
				})
				shared := run(func(c []float32) {
					kn.gemmShared(2, transA, transB, m, n, k, alpha, a, lda, b, ldb, 0.5, c, n, nil)
				})
				for _, threads := range []int{2, 3} {
					got := run(func(c []float32) {
						sgemmParallel(kn, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, 0.5, c, n, nil)
					})
					name := fmt.Sprintf("%v %dx%dx%d alpha=%g transA=%v transB=%v threads=%d split N=%v", l, m, n, k, alpha, transA, transB, threads, kn.halvesSplitN(threads, transA, alpha, m, n, lda))
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

// TestHalvesSplitN checks the direction of the halves' strips: N when A is
// the smaller operand or when the column strips read A in place, else M.
func TestHalvesSplitN(t *testing.T) {
	for _, l := range allLevels {
		if !Supported(l) || l == Generic {
			continue
		}
		kn := gemmKernelFor(l)
		direct := kn.blockA != nil
		for _, c := range []struct {
			m, n, lda int
			transA    bool
			alpha     float32
			want      bool
		}{
			{400, 3072, 768, false, 1, true},    // A smaller
			{400, 768, 400, true, 1, true},      // A smaller, transposed
			{1024, 1024, 1024, false, 2, false}, // equal, packed A: split M
			{2048, 512, 2048, true, 1, false},   // B smaller, A transposed
			{600, 512, 768, false, 1.5, false},  // B smaller, alpha ≠ 1
			{600, 512, 768, false, 1, direct},   // strips of 256 read A in place
			{600, 512, 2048, false, 1, false},   // rows 8 KiB apart: packed A
			{600, 512, 3000, false, 1, direct},  // a stride off 1024: in place
			{1200, 1024, 768, false, 1, direct}, // strips of 512 read A in place
			{1200, 1088, 768, false, 1, false},  // strips of 544 pack A
		} {
			if got := kn.halvesSplitN(2, c.transA, c.alpha, c.m, c.n, c.lda); got != c.want {
				t.Errorf("%v: halvesSplitN(2, transA=%v, alpha=%g, %d, %d, lda %d) = %v, want %v", l, c.transA, c.alpha, c.m, c.n, c.lda, got, c.want)
			}
		}
	}
}
