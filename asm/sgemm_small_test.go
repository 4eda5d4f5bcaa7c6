package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// smallKernels lists the small-M kernels to test: the pure-Go reference
// and every available level's.
func smallKernels(t *testing.T) []*smallKernel {
	ks := []*smallKernel{{name: "go", dotT: smallDotTGo, axpyN: smallAxpyNGo}}
	for _, l := range allLevels {
		if l == Generic {
			continue
		}
		if !Supported(l) {
			t.Logf("level %v is not available on this CPU/build (available: %v): its small-M kernels are not tested", l, Available())
			continue
		}
		if sk := smallKernelFor(l); sk != nil {
			ks = append(ks, sk)
		}
	}
	return ks
}

// TestSgemmSmallKernels runs each small-M kernel directly over m 1..9 and 16, n
// up to three granules, every k from 1 to 41 (all tails of the 8- and
// 16-element steps) plus larger ones, padded leading dimensions, offsets
// 0..15, with and without accumulation. A, B and C sit in NaN-filled
// buffers: A and B must be unchanged, C's gaps and guards must stay NaN,
// and the m×n result must match a float64 reference.
func TestSgemmSmallKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	ks := []int{}
	for k := 1; k <= 41; k++ {
		ks = append(ks, k)
	}
	ks = append(ks, 64, 100, 257)
	nan := float32(math.NaN())
	for _, sk := range smallKernels(t) {
		for _, transB := range []bool{true, false} {
			unit, kern, form := smallNN, sk.axpyN, "axpyN"
			if transB {
				unit, kern, form = sk.granule(), sk.dotT, "dotT"
			}
			for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 24, 50} {
				for _, k := range ks {
					if testing.Short() && rng.Intn(3) != 0 {
						continue
					}
					n := unit * (1 + rng.Intn(3))
					lda, ldc := k+rng.Intn(5), n+rng.Intn(5)
					br, bc := k, n
					if transB {
						br, bc = n, k
					}
					ldb := bc + rng.Intn(5)
					offA, offB, offC := rng.Intn(16), rng.Intn(16), rng.Intn(16)
					buf := func(off, rows, cols, ld int, fill bool) ([]float32, []float32) {
						s := make([]float32, off+matLen(rows, cols, ld)+guard)
						for i := range s {
							s[i] = nan
						}
						if fill {
							for r := 0; r < rows; r++ {
								for c := 0; c < cols; c++ {
									s[off+r*ld+c] = rng.Float32()*2 - 1
								}
							}
						}
						return s, s[off : off+matLen(rows, cols, ld)]
					}
					accum := rng.Intn(2) == 0
					abuf, a := buf(offA, m, k, lda, true)
					bbuf, b := buf(offB, br, bc, ldb, true)
					cbuf, c := buf(offC, m, n, ldc, accum)
					a0, b0, c0 := clone(abuf), clone(bbuf), clone(cbuf)
					kern(a, lda, b, ldb, c, ldc, m, n, k, accum)
					name := fmt.Sprintf("%s %s m=%d n=%d k=%d lda=%d ldb=%d ldc=%d off=%d,%d,%d accum=%v",
						sk.name, form, m, n, k, lda, ldb, ldc, offA, offB, offC, accum)
					if i := sameBits(abuf, a0); i >= 0 {
						t.Fatalf("%s: A buffer changed at %d", name, i)
					}
					if i := sameBits(bbuf, b0); i >= 0 {
						t.Fatalf("%s: B buffer changed at %d", name, i)
					}
					for idx := range cbuf {
						r, col := (idx-offC)/ldc, (idx-offC)%ldc
						if idx >= offC && r < m && col < n {
							i, j := r, col
							var s, mag float64
							for p := 0; p < k; p++ {
								var bv float32
								if transB {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								x := float64(a[i*lda+p]) * float64(bv)
								s += x
								mag += math.Abs(x)
							}
							if accum {
								s += float64(c0[idx])
								mag += math.Abs(float64(c0[idx]))
							}
							if d := math.Abs(float64(cbuf[idx]) - s); !(d <= gemmTol(k, mag)) {
								t.Fatalf("%s: C[%d,%d] = %g, want %g", name, i, j, cbuf[idx], s)
							}
							continue
						}
						if math.Float32bits(cbuf[idx]) != math.Float32bits(c0[idx]) {
							t.Fatalf("%s: C buffer element %d outside the matrix changed from %g to %g", name, idx, c0[idx], cbuf[idx])
						}
					}
				}
			}
		}
	}
}

// TestSgemmSmallDriver runs the small-M driver with every small kernel on
// 1, 2, 3 and 7 goroutines (any B size gets its own goroutine here), over
// n with and without a padded last group or strip, every transpose and
// alpha/beta pair, padding and offsets: A and B unchanged, C's guards and
// gaps untouched, C within tolerance of a float64 reference.
func TestSgemmSmallDriver(t *testing.T) {
	defer func(old int) { smallMinBytes = old }(smallMinBytes)
	smallMinBytes = 1
	rng := rand.New(rand.NewSource(37))
	var expects []*gemmExpect
	for _, m := range []int{1, 2, 3, 5, 8, 16} {
		for _, n := range []int{1, 3, 4, 31, 32, 33, 100, 135, 260} {
			for _, k := range []int{1, 7, 8, 19, 64} {
				if testing.Short() && rng.Intn(3) != 0 {
					continue
				}
				ab := alphaBetas[rng.Intn(len(alphaBetas)-1)] // alpha != 0
				cs := gemmCase{transA: rng.Intn(2) == 0, transB: rng.Intn(2) == 0, m: m, n: n, k: k, alpha: ab[0], beta: ab[1],
					padA: rng.Intn(4), padB: rng.Intn(4), padC: rng.Intn(4), offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16)}
				expects = append(expects, newGemmExpect(cs, rng.Int63()))
			}
		}
	}
	for _, sk := range smallKernels(t) {
		for _, threads := range []int{0, 1, 2, 3, 7} {
			f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmSmall(sk, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
			}
			for _, e := range expects {
				if _, ok := runGemm(t, fmt.Sprintf("small %s/threads=%d", sk.name, threads), f, e); !ok {
					return
				}
			}
		}
	}
}

// TestSgemmSmallBlockedA runs the k-blocked dot form (B stored n×k, k
// above the kernel's dotKC) for m at and above dotBlocksMinM, where A is
// read from a copy of its blocks (dotBlocksOfA): against a float64
// reference, with A, B and C's gaps untouched, and bit for bit against the
// same kernel reading A in place (dotBlocksMinM out of reach). The
// pure-Go kernel runs with a dotKC of 24 so that every platform takes the
// path; the machine's own kernels with theirs.
func TestSgemmSmallBlockedA(t *testing.T) {
	defer func(old, oldMin int) { smallMinBytes, dotBlocksMinM = old, oldMin }(smallMinBytes, dotBlocksMinM)
	smallMinBytes = 1
	kernels := []*smallKernel{{name: "go-kc24", dotT: smallDotTGo, axpyN: smallAxpyNGo, dotMaxM: 64, dotKC: 24}}
	for _, sk := range smallKernels(t) {
		if sk.dotKC > 0 {
			kernels = append(kernels, sk)
		}
	}
	rng := rand.New(rand.NewSource(41))
	for _, sk := range kernels {
		ks := []int{sk.dotKC + 1, 2*sk.dotKC + 7, 4 * sk.dotKC}
		for _, m := range []int{smallMaxM, smallMaxM + 1, 20, 50} {
			if m > sk.maxDotM() {
				continue
			}
			for _, n := range []int{8, 33, 96} {
				for _, k := range ks {
					if testing.Short() && rng.Intn(2) != 0 {
						continue
					}
					ab := alphaBetas[rng.Intn(len(alphaBetas)-1)] // alpha != 0
					cs := gemmCase{transA: rng.Intn(2) == 0, transB: true, m: m, n: n, k: k, alpha: ab[0], beta: ab[1],
						padA: rng.Intn(4), padB: rng.Intn(4), padC: rng.Intn(4), offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16)}
					e := newGemmExpect(cs, rng.Int63())
					threads := rng.Intn(4) // 0: ParallelFor's default, GOMAXPROCS
					f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						sgemmSmall(sk, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
					}
					dotBlocksMinM = smallMaxM + 1
					got, ok := runGemm(t, fmt.Sprintf("small %s/threads=%d", sk.name, threads), f, e)
					if !ok {
						return
					}
					dotBlocksMinM = math.MaxInt
					inPlace, ok := runGemm(t, fmt.Sprintf("small %s in place/threads=%d", sk.name, threads), f, e)
					if !ok {
						return
					}
					if i := sameBits(got, inPlace); i >= 0 {
						t.Fatalf("%s %+v: C[%d] = %v with A's blocks copied, %v read in place", sk.name, cs, i, got[i], inPlace[i])
					}
				}
			}
		}
	}
}

// TestSgemmSmallDefaultThreads: threads ≤ 0 (ParallelFor's default,
// GOMAXPROCS goroutines) on the k-blocked dot form with per-goroutine
// copies of A, ranges of one group each so that helpers take some: bit
// for bit the result on one goroutine. Sizing the copies by threads
// itself indexes past them (a panic).
func TestSgemmSmallDefaultThreads(t *testing.T) {
	defer func(old int) { smallMinBytes = old }(smallMinBytes)
	smallMinBytes = 1
	rng := rand.New(rand.NewSource(5))
	for _, sk := range smallKernels(t) {
		if sk.dotKC == 0 {
			continue
		}
		m, n, k := 50, 96, 2*sk.dotKC+7
		a, b := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = rng.Float32()*2 - 1
		}
		for i := range b {
			b[i] = rng.Float32()*2 - 1
		}
		want := make([]float32, m*n)
		sgemmSmall(sk, 1, false, true, m, n, k, 1, a, k, b, k, 0, want, n, nil)
		for rep := 0; rep < 50; rep++ {
			got := make([]float32, m*n)
			sgemmSmall(sk, 0, false, true, m, n, k, 1, a, k, b, k, 0, got, n, nil)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: threads 0: C[%d][%d] = %v, one goroutine %v", sk.name, i/n, i%n, got[i], want[i])
				}
			}
		}
	}
}
