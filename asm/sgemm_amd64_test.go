//go:build !purego

package asm

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestSgemmAVX512Driver runs the AVX-512 kernel's blocking and its B
// packing routine (which needs only AVX) with a Go block kernel in place of
// the AVX-512 one, so everything but the AVX-512 instructions is tested on
// AVX2 machines too.
func TestSgemmAVX512Driver(t *testing.T) {
	if !Supported(AVX2) {
		t.Skip("needs AVX2 for the B packing routine")
	}
	kn := *avx512Gemm
	kn.block = goBlock(kn.mr, kn.nr)
	kn.blockA = goBlockA(kn.mr, kn.nr)
	small := kn
	small.mc, small.kc, small.nc = 24, 5, 64
	rng := rand.New(rand.NewSource(11))
	for _, k := range []*gemmKernel{&kn, &small} {
		for _, s := range [][3]int{{13, 33, 17}, {25, 65, 11}, {30, 100, 40}, {2, 70, 9}, {40, 3, 6}, {24, 64, 200}} {
			for tr := 0; tr < 4; tr++ {
				cs := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], alpha: 0.5, beta: 1,
					padA: rng.Intn(4), padB: rng.Intn(4), padC: rng.Intn(4), offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16)}
				f := func(transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemmParallel(k, 2, transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc, nil)
				}
				if _, ok := runGemm(t, fmt.Sprintf("avx512-driver mc=%d", k.mc), f, newGemmExpect(cs, rng.Int63())); !ok {
					return
				}
			}
		}
	}
}
