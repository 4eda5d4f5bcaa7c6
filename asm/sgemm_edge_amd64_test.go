//go:build !purego

package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// TestSgemmEdgeAVX512 checks that the 4- and 8-row edge kernels write the
// first rows of what the 12-row kernel writes with one row tile and
// accum = 0, bit for bit, and nothing else: over depths from 1 to 256,
// one to three column tiles, packed and strided B.
func TestSgemmEdgeAVX512(t *testing.T) {
	if !Supported(AVX512) {
		t.Skip("no AVX-512F")
	}
	rng := rand.New(rand.NewSource(3))
	for _, rows := range []int{1, 2, 4, 5, 8} {
		e := avx512Edge(rows)
		if e == nil {
			t.Fatalf("no edge kernel for %d rows", rows)
		}
		for _, kc := range []int{1, 3, 4, 7, 64, 256} {
			for nTiles := 1; nTiles <= 3; nTiles++ {
				for _, packed := range []bool{true, false} {
					ldb, bstep := 32, kc*32
					if !packed {
						ldb, bstep = 32*nTiles+5, 32
					}
					a := make([]float32, kc*12)
					for i := range a {
						a[i] = rng.Float32()*2 - 1
					}
					b := make([]float32, (nTiles-1)*bstep+(kc-1)*ldb+32)
					for i := range b {
						b[i] = rng.Float32()*2 - 1
					}
					ldc := 32*nTiles + 3
					want := make([]float32, 12*ldc)
					sgemmBlockAVX512(&a[0], &b[0], &want[0], kc, ldb, bstep, ldc, 1, nTiles, 0, nil)
					got := make([]float32, 12*ldc)
					nan := float32(math.NaN())
					for i := range got {
						got[i] = nan
					}
					e(&a[0], &b[0], &got[0], kc, ldb, bstep, ldc, nTiles)
					name := fmt.Sprintf("rows=%d kc=%d nTiles=%d packed=%v", rows, kc, nTiles, packed)
					for i := 0; i < rows; i++ {
						for j := 0; j < 32*nTiles; j++ {
							if g, w := got[i*ldc+j], want[i*ldc+j]; math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("%s: C[%d][%d] = %g, 12-row kernel %g", name, i, j, g, w)
							}
						}
						for j := 32 * nTiles; j < ldc; j++ {
							if !math.IsNaN(float64(got[i*ldc+j])) {
								t.Fatalf("%s: wrote C[%d][%d] past the tiles", name, i, j)
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmBlockAVX512A checks the kernel that reads A in place against the
// one that reads it packed, bit for bit: over depths with and without a
// tail of 1-3, one to three row and column tiles, accumulation into C or
// not, and row strides of A equal to kc, longer, and a multiple of 1024
// (every row in one L1 set). Nothing outside the tiles may be written.
func TestSgemmBlockAVX512A(t *testing.T) {
	if !Supported(AVX512) {
		t.Skip("no AVX-512F")
	}
	rng := rand.New(rand.NewSource(5))
	for _, kc := range []int{1, 2, 3, 4, 5, 64, 255, 256} {
		for _, pad := range []int{0, 3, 1024 - kc} {
			lda := kc + pad
			for mTiles := 1; mTiles <= 3; mTiles++ {
				for nTiles := 1; nTiles <= 3; nTiles++ {
					for accum := 0; accum <= 1; accum++ {
						m := 12 * mTiles
						a := make([]float32, (m-1)*lda+kc)
						for i := range a {
							a[i] = rng.Float32()*2 - 1
						}
						packed := make([]float32, m*kc) // micro-panels: (ir, p, i)
						for ir := 0; ir < mTiles; ir++ {
							for p := 0; p < kc; p++ {
								for i := 0; i < 12; i++ {
									packed[ir*kc*12+p*12+i] = a[(ir*12+i)*lda+p]
								}
							}
						}
						b := make([]float32, nTiles*kc*32)
						for i := range b {
							b[i] = rng.Float32()*2 - 1
						}
						ldc := 32*nTiles + 3
						c0 := make([]float32, m*ldc)
						for i := range c0 {
							c0[i] = rng.Float32()*2 - 1
						}
						for i := 0; i < m; i++ {
							for j := 32 * nTiles; j < ldc; j++ {
								c0[i*ldc+j] = float32(math.NaN())
							}
						}
						want := append([]float32(nil), c0...)
						got := append([]float32(nil), c0...)
						sgemmBlockAVX512(&packed[0], &b[0], &want[0], kc, 32, kc*32, ldc, mTiles, nTiles, accum, nil)
						sgemmBlockAVX512A(&a[0], &b[0], &got[0], kc, 32, kc*32, ldc, mTiles, nTiles, accum, lda, nil)
						name := fmt.Sprintf("kc=%d lda=%d mTiles=%d nTiles=%d accum=%d", kc, lda, mTiles, nTiles, accum)
						for i := range got {
							if g, w := got[i], want[i]; math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("%s: C[%d][%d] = %g, packed-A kernel %g", name, i/ldc, i%ldc, g, w)
							}
						}
					}
				}
			}
		}
	}
}
