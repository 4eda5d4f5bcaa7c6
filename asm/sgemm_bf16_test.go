package asm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// nearestBF16 is an independent reference for RoundBF16: the bfloat16
// nearest x found by comparing the two neighbours in float64 (ties to the
// even one), with the hardware's handling of subnormals (signed zero),
// NaN (quiet) and overflow (infinity).
func nearestBF16(x float32) uint32 {
	u := math.Float32bits(x)
	switch {
	case x != x:
		return (u | 0x00400000) & 0xffff0000
	case u&0x7f800000 == 0:
		return u & 0x80000000
	}
	lo := u & 0xffff0000
	hi := lo + 0x10000 // next bfloat16 away from zero (may be infinity)
	dl := math.Abs(float64(x) - float64(math.Float32frombits(lo)))
	var dh float64
	if hi&0x7f800000 == 0x7f800000 {
		// Rounding up overflows: the midpoint to 2^128 decides.
		dh = math.Abs(math.Ldexp(1, 128)*math.Copysign(1, float64(x)) - float64(x))
	} else {
		dh = math.Abs(float64(math.Float32frombits(hi)) - float64(x))
	}
	switch {
	case dl < dh:
		return lo
	case dh < dl:
		return hi
	case lo&0x10000 == 0:
		return lo
	}
	return hi
}

// TestRoundBF16 checks RoundBF16 against nearestBF16 on special values,
// every tie and near-tie pattern of the low 16 bits, and random values.
func TestRoundBF16(t *testing.T) {
	vals := []uint32{0, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x7f800000, 0xff800000,
		0x7f800001, 0xffc00000, 0x7fbfffff, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0xff7fffff,
		0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0xbf808000, 0x3f800000}
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 200000; i++ {
		vals = append(vals, rng.Uint32())
	}
	for _, u := range vals {
		x := math.Float32frombits(u)
		got, want := math.Float32bits(RoundBF16(x)), nearestBF16(x)
		if got != want {
			t.Fatalf("RoundBF16(%#08x = %g) = %#08x, want %#08x", u, x, got, want)
		}
	}
}

// newGemmExpectBF16 is newGemmExpect with the reference of SgemmBF16:
// Σ bf16(alpha·op(A))·bf16(op(B)) + beta·C in float64 (the products are
// exact), and the magnitudes for the float32 summation error.
func newGemmExpectBF16(cs gemmCase, seed int64) *gemmExpect {
	o := newGemmOperands(cs, rand.New(rand.NewSource(seed)))
	ref := make([]float64, cs.m*cs.n)
	mag := make([]float64, cs.m*cs.n)
	for i := 0; i < cs.m; i++ {
		for j := 0; j < cs.n; j++ {
			var s, sa float64
			for p := 0; p < cs.k; p++ {
				x := float64(RoundBF16(cs.alpha*float32(o.aAt(i, p)))) * float64(RoundBF16(float32(o.bAt(p, j))))
				s += x
				sa += math.Abs(x)
			}
			if cs.beta != 0 {
				cv := float64(cs.beta) * float64(o.c[i*o.ldc+j])
				s += cv
				sa += math.Abs(cv)
			}
			ref[i*cs.n+j], mag[i*cs.n+j] = s, sa
		}
	}
	return &gemmExpect{cs: cs, seed: seed, ref: ref, mag: mag}
}

// TestSgemmBF16 runs SgemmBF16 at every level (Generic: the pure-Go loop;
// AVX2 and AVX-512 without AVX512_BF16: rounded copies through the float32
// kernels; AVX-512 with it: VDPBF16PS) and the bfloat16 kernel's packed
// driver alone on 1 to 3 goroutines, over the tail and large cases (odd k,
// partial tiles, every transpose, offsets, NaN guards), against the
// float64 reference of the rounded operands.
func TestSgemmBF16(t *testing.T) {
	rng := rand.New(rand.NewSource(71))
	cases := tailCases(12, 32, rng, testing.Short())
	if !testing.Short() {
		cases = append(cases, largeCases(rng)...)
	}
	cases = append(cases, gemmCase{m: 50, n: 100, k: 800, alpha: 1}, gemmCase{transB: true, m: 70, n: 96, k: 769, alpha: 1, beta: 1},
		gemmCase{transA: true, m: 40, n: 65, k: 95, alpha: 0.3, beta: 0.5},
		// the dot form: k blocks, several converted chunks of B and an
		// edge of fewer than 8 columns, transposed A, every row count of
		// its 3-row tiles
		gemmCase{transB: true, m: 50, n: 203, k: 1600, alpha: 1, beta: 1}, gemmCase{transA: true, transB: true, m: 5, n: 70, k: 33, alpha: 0.5},
		gemmCase{transB: true, m: 128, n: 9, k: 3072, alpha: 1}, gemmCase{transB: true, m: 4, n: 8, k: 1536, alpha: 1, beta: 0.5})
	fs := map[string]sgemmFunc{}
	for _, l := range allLevels {
		if !Supported(l) {
			t.Logf("level %v is not available on this CPU/build (available: %v): not tested", l, Available())
			continue
		}
		fs[l.String()] = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			SgemmBF16Level(l, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
	}
	kern := bf16KernelFor(AVX512)
	if kern == nil {
		t.Logf("no AVX512_BF16 on this CPU/build: the VDPBF16PS kernel is not tested")
	} else {
		// Tiny blocks too, so that every block edge is crossed.
		small := *kern
		small.mc, small.kc, small.nc = 24, 37, 64
		for _, kn := range []*gemmKernel{kern, &small} {
			for _, threads := range []int{1, 3} {
				fs[fmt.Sprintf("packed mc=%d kc=%d threads=%d", kn.mc, kn.kc, threads)] = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					if k == 0 || alpha == 0 || m == 0 || n == 0 {
						SgemmBF16Level(Generic, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						return
					}
					sgemmParallel(kn, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
				}
			}
		}
	}
	if kern != nil && kern.dotT != nil {
		for _, threads := range []int{1, 3} {
			fs[fmt.Sprintf("dot threads=%d", threads)] = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				if k == 0 || alpha == 0 || m == 0 || n == 0 || !transB || m > kern.dotMaxM {
					SgemmBF16Level(Generic, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					return
				}
				kern.dotT(threads, transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
			}
		}
	}
	for _, cs := range cases {
		e := newGemmExpectBF16(cs, rng.Int63())
		for name, f := range fs {
			if _, ok := runGemm(t, "SgemmBF16 "+name, f, e); !ok {
				return
			}
		}
	}
}

// TestSgemmBF16Packing checks the assembly packers against the Go ones bit
// for bit, with NaN, infinities, subnormals and rounding ties among the
// values, every transpose, odd and even k, whole and partial panels.
func TestSgemmBF16Packing(t *testing.T) {
	kern := bf16KernelFor(AVX512)
	if kern == nil {
		t.Skip("no AVX512_BF16 on this CPU/build: no bfloat16 packing assembly to test")
	}
	goKern := *kern
	goKern.name = "go"
	goKern.packAPairsAsm, goKern.packBPairsAsm, goKern.packATPairsAsm = nil, nil, nil
	rng := rand.New(rand.NewSource(9))
	special := []uint32{0x7fc00001, 0x7f800001, 0xff800000, 0x7f800000, 0x00000001, 0x80000003, 0x3f808000, 0x3f818000, 0x7f7fffff, 0}
	val := func() float32 {
		if rng.Intn(10) == 0 {
			return math.Float32frombits(special[rng.Intn(len(special))])
		}
		return rng.Float32()*4 - 2
	}
	for _, kc := range []int{1, 2, 31, 32, 33, 64, 95, 384} {
		for _, n := range []int{5, 32, 64, 70} {
			for _, trans := range []bool{false, true} {
				ld := kc + rng.Intn(5)
				if !trans {
					ld = n + rng.Intn(5)
				}
				rows := kc
				if trans {
					rows = n
				}
				src := make([]float32, rows*ld+7)
				for i := range src {
					src[i] = val()
				}
				kp := (kc + 1) / 2
				size := gemmRoundUp(n, kern.nr) * kp
				want, got := make([]float32, size), make([]float32, size)
				goKern.packBPairs(want, trans, src[3:], ld, 0, 0, kc, n)
				kern.packBPairs(got, trans, src[3:], ld, 0, 0, kc, n)
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("packBPairs trans=%v kc=%d n=%d: slot %d = %#08x, want %#08x", trans, kc, n, i,
						math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
				// A of n rows: op(A) is n×kc, stored kc×n when transposed
				// (the assembly path is the one not transposed).
				ar, ac := n, kc
				if trans {
					ar, ac = kc, n
				}
				lda := ac + rng.Intn(5)
				asrc := make([]float32, ar*lda+7)
				for i := range asrc {
					asrc[i] = val()
				}
				sizeA := gemmRoundUp(n, kern.mr) * kp
				for _, alpha := range []float32{1, -0.75} {
					wantA := refPackAPairs(kern.mr, trans, asrc[3:], lda, n, kc, alpha)
					for _, k := range []*gemmKernel{kern, &goKern} {
						gotA := make([]float32, sizeA)
						for i := range gotA {
							gotA[i] = float32(math.NaN()) // every slot must be written
						}
						k.packAPairs(gotA, trans, asrc[3:], lda, 0, 0, n, kc, alpha)
						if i := sameBits(gotA, wantA); i >= 0 {
							t.Fatalf("packAPairs (%s) trans=%v kc=%d m=%d alpha=%v: slot %d = %#08x, want %#08x", k.name, trans, kc, n, alpha, i,
								math.Float32bits(gotA[i]), math.Float32bits(wantA[i]))
						}
					}
				}
			}
		}
	}
}

// refPackAPairs is packAPairs by its definition, one slot at a time: pair
// (i, q) of alpha·op(A) (m×kc) at panel i/mr, slot (i/mr)*mr*kp + q*mr +
// i%mr; the element past an odd kc and the rows past m are zero.
func refPackAPairs(mr int, transA bool, a []float32, lda, m, kc int, alpha float32) []float32 {
	kp := (kc + 1) / 2
	out := make([]float32, gemmRoundUp(m, mr)*kp)
	at := func(i, p int) float32 {
		if p >= kc {
			return 0
		}
		if transA {
			return alpha * a[p*lda+i]
		}
		return alpha * a[i*lda+p]
	}
	for i := range m {
		for q := range kp {
			out[i/mr*mr*kp+q*mr+i%mr] = bf16Pair(at(i, 2*q), at(i, 2*q+1))
		}
	}
	return out
}
