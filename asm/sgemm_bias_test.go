package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// biasCase is one SgemmBias problem: A, B and bias random; C of row
// stride n+3, NaN everywhere before the call.
type biasCase struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
}

func (bc biasCase) String() string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d alpha=%g", bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha)
}

// checkBias runs got (a SgemmBias) and want (the same GEMM with beta 1)
// on one case: got's C must equal, bit for bit, want's C after its rows
// were set to the bias, and the padding columns must stay NaN.
func checkBiasCase(t *testing.T, name string, bc biasCase, seed int64,
	got func(a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int),
	want func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int)) bool {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	lda, ldb := bc.k, bc.n
	if bc.transA {
		lda = bc.m
	}
	if bc.transB {
		ldb = bc.k
	}
	lda, ldb = max(lda, 1), max(ldb, 1)
	a, b, bias := fill(max(bc.m, bc.k)*lda), fill(max(bc.n, bc.k)*ldb), fill(bc.n)
	ldc := bc.n + 3
	nan := float32(math.NaN())
	g, w := make([]float32, bc.m*ldc), make([]float32, bc.m*ldc)
	for i := range g {
		g[i], w[i] = nan, nan
	}
	for i := 0; i < bc.m; i++ {
		copy(w[i*ldc:i*ldc+bc.n], bias)
	}
	got(a, lda, b, ldb, bias, g, ldc)
	want(a, lda, b, ldb, w, ldc)
	for i := range g {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Errorf("%s %v: C[%d][%d] = %v, filled with the bias and added: %v", name, bc, i/ldc, i%ldc, g[i], w[i])
			return false
		}
	}
	return true
}

// biasCases covers the small-M path (m ≤ 16; the dot form up to 128 rows,
// with k blocks from k = 769 on), whole and edge tiles of
// the packed kernels, several k blocks (k > kc), A read in place (alpha 1,
// A not transposed) and packed, both column and row splits.
func biasCases() []biasCase {
	var cs []biasCase
	for _, s := range [][3]int{{1, 1, 1}, {5, 70, 9}, {13, 33, 17}, {40, 3, 6}, {30, 70, 300},
		{157, 103, 64}, {200, 520, 40}, {832, 192, 64}, {24, 64, 0}, {50, 70, 1600}} {
		for tr := 0; tr < 4; tr++ {
			for _, alpha := range []float32{1, -0.75} {
				cs = append(cs, biasCase{tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], alpha})
			}
		}
	}
	return cs
}

// TestSgemmBias: at every level, SgemmBias is Sgemm with beta 1 on rows
// set to the bias, bit for bit; so is the bfloat16 variant against
// SgemmBF16. The AVX-512 kernels add the bias in registers (accum 2), the
// others fill C's rows first.
func TestSgemmBias(t *testing.T) {
	for _, l := range Available() {
		for i, bc := range biasCases() {
			ok := checkBiasCase(t, "SgemmBias/"+l.String(), bc, int64(i),
				func(a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
					SgemmBiasLevel(l, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, bias, c, ldc)
				},
				func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
					SgemmLevel(l, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, 1, c, ldc)
				})
			ok = ok && checkBiasCase(t, "SgemmBF16Bias/"+l.String(), bc, int64(i),
				func(a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
					SgemmBF16BiasLevel(l, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, bias, c, ldc)
				},
				func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
					SgemmBF16Level(l, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, 1, c, ldc)
				})
			if !ok {
				return
			}
		}
	}
}

// TestSgemmBiasDriver: the packed driver with a bias, on 1 to 3
// goroutines (shared B panels, strips, halves), for this machine's
// kernels and for pure-Go kernels of several tile shapes with and without
// accum 2 (biasAdd) and an unpacked-A kernel, with small cache blocks so
// that every loop and edge runs.
func TestSgemmBiasDriver(t *testing.T) {
	kernels := []*gemmKernel{
		{name: "go6x16", mr: 6, nr: 16, mc: 12, kc: 7, nc: 48},
		{name: "go12x32", mr: 12, nr: 32, mc: 24, kc: 5, nc: 64},
		{name: "go3x5", mr: 3, nr: 5, mc: 6, kc: 4, nc: 10},
	}
	var all []*gemmKernel
	for _, kn := range kernels {
		for _, add := range []bool{false, true} {
			for _, withA := range []bool{false, true} {
				k := *kn
				k.block, k.biasAdd = goBlock(k.mr, k.nr), add
				k.name += fmt.Sprintf("/biasAdd=%v", add)
				if withA {
					k.blockA = goBlockA(k.mr, k.nr)
					k.name += "+blockA"
				}
				all = append(all, &k)
			}
		}
	}
	for _, l := range Available() {
		if kn := gemmKernelFor(l); kn != nil {
			all = append(all, kn)
		}
		if kn := bf16KernelFor(l); kn != nil {
			all = append(all, kn)
		}
	}
	cases := []biasCase{{false, false, 25, 65, 11, 1}, {false, true, 31, 70, 40, 1}, {true, false, 30, 70, 13, -0.75},
		{true, true, 13, 33, 17, 1}, {false, false, 200, 520, 40, 1}, {false, true, 157, 103, 300, 1}, {false, false, 7, 50, 9, 1}}
	for _, kn := range all {
		for _, threads := range []int{1, 2, 3} {
			for i, bc := range cases {
				ok := checkBiasCase(t, fmt.Sprintf("%s/threads=%d", kn.name, threads), bc, int64(i),
					func(a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
						sgemmParallel(kn, threads, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, 0, c, ldc, bias)
					},
					func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
						sgemmParallel(kn, threads, bc.transA, bc.transB, bc.m, bc.n, bc.k, bc.alpha, a, lda, b, ldb, 1, c, ldc, nil)
					})
				if !ok {
					return
				}
			}
		}
	}
}
