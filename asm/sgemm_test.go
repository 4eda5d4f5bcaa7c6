package asm

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"unsafe"
)

type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmCase is one Sgemm call: shapes, scalars, leading-dimension padding
// (ld = width + pad) and slice offsets into larger NaN-filled buffers.
type gemmCase struct {
	transA, transB   bool
	m, n, k          int
	alpha, beta      float32
	padA, padB, padC int
	offA, offB, offC int
}

func (cs gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s m=%d n=%d k=%d alpha=%g beta=%g pad=%d,%d,%d off=%d,%d,%d",
		t(cs.transA), t(cs.transB), cs.m, cs.n, cs.k, cs.alpha, cs.beta,
		cs.padA, cs.padB, cs.padC, cs.offA, cs.offB, cs.offC)
}

// gemmOperands is a case's buffers: each matrix sits at an offset inside a
// buffer whose every other element (offset, row gaps, tail guard) is NaN.
type gemmOperands struct {
	cs               gemmCase
	lda, ldb, ldc    int
	abuf, bbuf, cbuf []float32
	a, b, c          []float32 // exact-length views of the matrices
}

const guard = 16

func newGemmOperands(cs gemmCase, rng *rand.Rand) *gemmOperands {
	ar, ac := cs.m, cs.k
	if cs.transA {
		ar, ac = cs.k, cs.m
	}
	br, bc := cs.k, cs.n
	if cs.transB {
		br, bc = cs.n, cs.k
	}
	o := &gemmOperands{cs: cs, lda: max(ac, 1) + cs.padA, ldb: max(bc, 1) + cs.padB, ldc: max(cs.n, 1) + cs.padC}
	fill := func(off, rows, cols, ld int, nanRegion bool) ([]float32, []float32) {
		n := matLen(rows, cols, ld)
		buf := make([]float32, off+n+guard)
		for i := range buf {
			buf[i] = float32(math.NaN())
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				if !nanRegion {
					buf[off+i*ld+j] = rng.Float32()*2 - 1
				}
			}
		}
		return buf, buf[off : off+n]
	}
	o.abuf, o.a = fill(cs.offA, ar, ac, o.lda, false)
	o.bbuf, o.b = fill(cs.offB, br, bc, o.ldb, false)
	o.cbuf, o.c = fill(cs.offC, cs.m, cs.n, o.ldc, cs.beta == 0)
	return o
}

func (o *gemmOperands) aAt(i, p int) float64 {
	if o.cs.transA {
		return float64(o.a[p*o.lda+i])
	}
	return float64(o.a[i*o.lda+p])
}

func (o *gemmOperands) bAt(p, j int) float64 {
	if o.cs.transB {
		return float64(o.b[j*o.ldb+p])
	}
	return float64(o.b[p*o.ldb+j])
}

// naive64 is the float64 triple loop: ref = alpha·op(A)·op(B) + beta·C and
// mag = |alpha|·Σ|A||B| + |beta·C|, the scale of the rounding error.
func (o *gemmOperands) naive64() (ref, mag []float64) {
	cs := o.cs
	ref = make([]float64, cs.m*cs.n)
	mag = make([]float64, cs.m*cs.n)
	for i := 0; i < cs.m; i++ {
		for j := 0; j < cs.n; j++ {
			var s, sa float64
			for p := 0; p < cs.k; p++ {
				x := o.aAt(i, p) * o.bAt(p, j)
				s += x
				sa += math.Abs(x)
			}
			r := float64(cs.alpha) * s
			ma := math.Abs(float64(cs.alpha)) * sa
			if cs.beta != 0 {
				cv := float64(cs.beta) * float64(o.c[i*o.ldc+j])
				r += cv
				ma += math.Abs(cv)
			}
			ref[i*cs.n+j], mag[i*cs.n+j] = r, ma
		}
	}
	return ref, mag
}

// gemmTol is the error bound atol + rtol·mag with rtol = 2(k+4)u, u = 2⁻²⁴:
// the classical γ bound for a k-term float32 dot product plus the roundings
// of alpha, beta and the final add, with a factor 2 for summation order.
func gemmTol(k int, mag float64) float64 {
	return 1e-7 + 2*float64(k+4)*0x1p-24*mag
}

func clone(s []float32) []float32 { return append([]float32(nil), s...) }

func sameBits(x, y []float32) int {
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return i
		}
	}
	return -1
}

// gemmExpect is a case with its inputs' seed and float64 reference.
type gemmExpect struct {
	cs       gemmCase
	seed     int64
	ref, mag []float64
}

func newGemmExpect(cs gemmCase, seed int64) *gemmExpect {
	ref, mag := newGemmOperands(cs, rand.New(rand.NewSource(seed))).naive64()
	return &gemmExpect{cs: cs, seed: seed, ref: ref, mag: mag}
}

// runGemm calls f on fresh operands of the case and checks: A and B
// unchanged, every C buffer element outside the m×n region unchanged (NaN),
// and the region within tolerance of the float64 reference. It returns C's
// region (row-major m×n) for cross-checks.
func runGemm(t *testing.T, name string, f sgemmFunc, e *gemmExpect) ([]float32, bool) {
	t.Helper()
	cs := e.cs
	o := newGemmOperands(cs, rand.New(rand.NewSource(e.seed)))
	a0, b0, c0 := clone(o.abuf), clone(o.bbuf), clone(o.cbuf)
	f(cs.transA, cs.transB, cs.m, cs.n, cs.k, cs.alpha, o.a, o.lda, o.b, o.ldb, cs.beta, o.c, o.ldc)
	if i := sameBits(o.abuf, a0); i >= 0 {
		t.Errorf("%s %v: A buffer changed at %d", name, cs, i)
		return nil, false
	}
	if i := sameBits(o.bbuf, b0); i >= 0 {
		t.Errorf("%s %v: B buffer changed at %d", name, cs, i)
		return nil, false
	}
	got := make([]float32, cs.m*cs.n)
	inRegion := make([]bool, len(o.cbuf))
	bad := 0
	for i := 0; i < cs.m; i++ {
		for j := 0; j < cs.n; j++ {
			idx := cs.offC + i*o.ldc + j
			inRegion[idx] = true
			v := o.cbuf[idx]
			got[i*cs.n+j] = v
			r, tol := e.ref[i*cs.n+j], gemmTol(cs.k, e.mag[i*cs.n+j])
			if d := math.Abs(float64(v) - r); !(d <= tol) {
				if bad < 3 {
					t.Errorf("%s %v: C[%d,%d] = %g, want %g (|diff| %.3g > tol %.3g)", name, cs, i, j, v, r, d, tol)
				}
				bad++
			}
		}
	}
	for idx, v := range o.cbuf {
		if !inRegion[idx] && math.Float32bits(v) != math.Float32bits(c0[idx]) {
			t.Errorf("%s %v: C buffer element %d outside the matrix changed from %g to %g", name, cs, idx, c0[idx], v)
			return nil, false
		}
	}
	if bad > 0 {
		t.Errorf("%s %v: %d of %d elements out of tolerance", name, cs, bad, cs.m*cs.n)
	}
	return got, bad == 0
}

func levelFunc(l Level) sgemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		SgemmLevel(l, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {-0.5, 0}, {2, -1.5}, {0.75, 1}, {0, 0.5}}

// tailCases samples m over 0..2mr+1, n over 0..2nr+1 and k over 0..9 plus
// sizes around the k unroll, with every transpose combination, random
// leading-dimension padding, offsets 0..15 and alpha/beta pairs.
func tailCases(mr, nr int, rng *rand.Rand, short bool) []gemmCase {
	ks := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 33}
	var cases []gemmCase
	for m := 0; m <= 2*mr+1; m++ {
		for n := 0; n <= 2*nr+1; n++ {
			for _, k := range ks {
				if short && rng.Intn(4) != 0 {
					continue
				}
				if !short && rng.Intn(2) != 0 {
					continue
				}
				ab := alphaBetas[rng.Intn(len(alphaBetas))]
				cases = append(cases, gemmCase{
					transA: rng.Intn(2) == 0, transB: rng.Intn(2) == 0,
					m: m, n: n, k: k, alpha: ab[0], beta: ab[1],
					padA: rng.Intn(3) * rng.Intn(9), padB: rng.Intn(3) * rng.Intn(9), padC: rng.Intn(3) * rng.Intn(9),
					offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16),
				})
			}
		}
	}
	return cases
}

// largeCases cross the cache blocks (mc, kc, nc), the direct-B path for
// small m, and both parallel splits.
func largeCases(rng *rand.Rand) []gemmCase {
	shapes := [][3]int{
		{150, 170, 300}, {7, 4113, 33}, {13, 40, 700}, {290, 35, 70}, {64, 64, 64},
		{2, 600, 257}, {97, 1000, 5}, {300, 97, 200},
	}
	var cases []gemmCase
	for si, s := range shapes {
		for tr := 0; tr < 4; tr++ {
			ab := alphaBetas[(si+tr)%len(alphaBetas)]
			cases = append(cases, gemmCase{
				transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2],
				alpha: ab[0], beta: ab[1], padA: rng.Intn(5), padB: rng.Intn(5), padC: rng.Intn(5),
				offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16),
			})
		}
	}
	return cases
}

// TestSgemmGenericNaive checks the pure-Go reference against the float64
// triple loop.
func TestSgemmGenericNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := append(tailCases(6, 16, rng, testing.Short()), largeCases(rng)...)
	for _, cs := range cases {
		if _, ok := runGemm(t, "sgemmGeneric", sgemmGeneric, newGemmExpect(cs, rng.Int63())); !ok {
			return
		}
	}
}

var allLevels = []Level{Generic, AVX2, AVX512, NEON}

// TestSgemmLevels checks every SIMD level against the float64 reference
// and against sgemmGeneric on the same inputs.
func TestSgemmLevels(t *testing.T) {
	for _, l := range allLevels {
		t.Run(l.String(), func(t *testing.T) {
			if !Supported(l) {
				t.Skipf("level %v is not available on this CPU/build (available: %v)", l, Available())
			}
			mr, nr := 1, 1
			if kern := gemmKernelFor(l); kern != nil {
				mr, nr = kern.mr, kern.nr
				t.Logf("level %v: %d×%d kernel, mc=%d kc=%d nc=%d", l, mr, nr, kern.mc, kern.kc, kern.nc)
			}
			if l == Generic {
				mr, nr = 6, 16
			}
			rng := rand.New(rand.NewSource(int64(2 + l)))
			cases := append(tailCases(mr, nr, rng, testing.Short()), largeCases(rng)...)
			// Sgemm itself (which takes the small-M path for few rows) and,
			// for every m, the packed path.
			fs := map[string]sgemmFunc{l.String(): levelFunc(l)}
			if kern := gemmKernelFor(l); kern != nil {
				fs[l.String()+"/packed"] = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemmParallel(kern, gemmThreads(m, n, k), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
				}
			}
			for _, cs := range cases {
				e := newGemmExpect(cs, rng.Int63())
				want, _ := runGemm(t, "sgemmGeneric", sgemmGeneric, e)
				for name, f := range fs {
					got, ok := runGemm(t, name, f, e)
					if !ok {
						return
					}
					for i := range got {
						if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= 2*gemmTol(cs.k, e.mag[i])) {
							t.Errorf("%s %v: element %d = %g, generic %g", name, cs, i, got[i], want[i])
							return
						}
					}
				}
			}
		})
	}
}

// TestSgemmThreads runs the parallel split with more goroutines than
// GOMAXPROCS, splitting N and M.
func TestSgemmThreads(t *testing.T) {
	var expects []*gemmExpect
	for si, s := range [][3]int{{100, 333, 60}, {333, 100, 60}, {5, 2000, 64}, {900, 7, 64}} {
		for tr := 0; tr < 4; tr++ {
			cs := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], alpha: 1.5, beta: 0.5,
				padA: 3, padB: 1, padC: 2, offA: 5, offB: 7, offC: 9}
			expects = append(expects, newGemmExpect(cs, int64(si*4+tr)))
		}
	}
	for _, l := range allLevels {
		if !Supported(l) {
			continue
		}
		kern := gemmKernelFor(l)
		for _, threads := range []int{1, 3, 4, 7} {
			f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmParallel(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
			}
			for _, e := range expects {
				if _, ok := runGemm(t, fmt.Sprintf("%v/threads=%d", l, threads), f, e); !ok {
					return
				}
			}
		}
	}
}

// TestSgemmStrided compares each batch entry with a separate sgemmGeneric
// call, with broadcast (stride 0) operands, over both the batch-parallel
// and the within-GEMM paths.
func TestSgemmStrided(t *testing.T) {
	type stridedCase struct {
		m, n, k, batch int
		bcastA, bcastB bool
		bcastC         bool // strideC = 0: products accumulate into one C, in order
	}
	cases := []stridedCase{
		{5, 7, 9, 6, false, false, false}, {20, 33, 17, 5, true, false, false}, {20, 33, 17, 5, false, true, false},
		{1, 1, 1, 3, false, false, false}, {130, 150, 90, 2, false, false, false}, {0, 3, 4, 3, false, false, false},
		{3, 4, 0, 4, false, false, false}, {64, 64, 64, 9, false, true, false},
		{7, 9, 5, 4, false, false, true}, {70, 90, 50, 3, true, false, true},
	}
	for _, l := range allLevels {
		if !Supported(l) {
			continue
		}
		for ci, sc := range cases {
			for tr := 0; tr < 4; tr++ {
				transA, transB := tr&1 != 0, tr&2 != 0
				rng := rand.New(rand.NewSource(int64(ci*4 + tr)))
				ar, ac := sc.m, sc.k
				if transA {
					ar, ac = sc.k, sc.m
				}
				br, bc := sc.k, sc.n
				if transB {
					br, bc = sc.n, sc.k
				}
				lda, ldb, ldc := ac+1, bc+2, sc.n+3
				strideA, strideB, strideC := matLen(ar, ac, lda)+5, matLen(br, bc, ldb)+1, matLen(sc.m, sc.n, ldc)+4
				if sc.bcastA {
					strideA = 0
				}
				if sc.bcastB {
					strideB = 0
				}
				if sc.bcastC {
					strideC = 0
				}
				rnd := func(n int) []float32 {
					s := make([]float32, n)
					for i := range s {
						s[i] = rng.Float32()*2 - 1
					}
					return s
				}
				a := rnd(strideA*(sc.batch-1) + matLen(ar, ac, lda))
				b := rnd(strideB*(sc.batch-1) + matLen(br, bc, ldb))
				c := rnd(strideC*(sc.batch-1) + matLen(sc.m, sc.n, ldc))
				want := clone(c)
				alpha, beta := float32(0.5), float32(-1)
				for i := 0; i < sc.batch; i++ {
					if sc.m == 0 || sc.n == 0 {
						break
					}
					aa, bb := a, b
					if sc.k > 0 {
						aa, bb = a[i*strideA:], b[i*strideB:]
					}
					sgemmGeneric(transA, transB, sc.m, sc.n, sc.k, alpha, aa, lda, bb, ldb, beta, want[i*strideC:], ldc)
				}
				SgemmStridedLevel(l, transA, transB, sc.m, sc.n, sc.k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, sc.batch)
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); d > 1e-6+float64(4*(sc.k+4))*0x1p-24*(float64(sc.k)+1) {
						t.Fatalf("%v %+v tr=%d: c[%d] = %g, want %g", l, sc, tr, i, c[i], want[i])
					}
				}
			}
		}
	}
}

func expectPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Errorf("panic %q does not contain %q", msg, want)
		}
	}()
	f()
}

// TestSgemmEmpty: k = 0 with lda = 0 and nil A, B is valid (C = beta·C).
func TestSgemmEmpty(t *testing.T) {
	for _, l := range allLevels {
		if !Supported(l) {
			continue
		}
		c := []float32{1, 2, float32(math.NaN()), 4}
		SgemmLevel(l, false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0, c, 2)
		c2 := []float32{1, 2, 3, 4}
		SgemmLevel(l, true, true, 2, 2, 0, 1, nil, 2, nil, 0, 0.5, c2, 2)
		for i := range c {
			if c[i] != 0 || c2[i] != 0.5*float32(i+1) {
				t.Fatalf("%v: k=0 gave %v (beta=0) and %v (beta=0.5)", l, c, c2)
			}
		}
	}
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 12)
	b := make([]float32, 12)
	c := make([]float32, 12)
	expectPanic(t, "asm.Sgemm: len(a)=12 < 16", func() { Sgemm(false, false, 4, 3, 4, 1, a, 4, b, 3, 0, c, 3) })
	expectPanic(t, "asm.Sgemm: len(b)", func() { Sgemm(false, false, 3, 4, 4, 1, a, 4, b, 4, 0, c, 4) })
	expectPanic(t, "asm.Sgemm: len(c)", func() { Sgemm(false, false, 3, 5, 2, 1, a, 2, b, 5, 0, c, 5) })
	expectPanic(t, "asm.Sgemm: leading dimension", func() { Sgemm(true, false, 3, 3, 2, 1, a, 2, b, 3, 0, c, 3) })
	expectPanic(t, "asm.Sgemm: negative", func() { Sgemm(false, false, -1, 3, 2, 1, a, 2, b, 3, 0, c, 3) })
	expectPanic(t, "m=3 n=5 k=2", func() { Sgemm(false, false, 3, 5, 2, 1, a, 2, b, 5, 0, c, 5) })
	expectPanic(t, "asm.SgemmStrided: len(c)", func() {
		SgemmStrided(false, false, 2, 2, 2, 1, a, 2, 0, b, 2, 0, 0, c, 2, 4, 4)
	})
	expectPanic(t, "asm.Sgemm: leading dimension", func() { Sgemm(false, true, 3, 3, 2, 1, a, 2, b, 1, 0, c, 3) })
}

// goBlock is gemmKernel.block in plain Go for an mr×nr tile, so the packed
// driver can be tested with any tile shape and tiny cache blocks (including
// the AVX-512 kernel's 12×32 blocking, which cannot run on every machine).
func goBlock(mr, nr int) func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32) {
	return func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum int, bias *float32) {
		as := unsafe.Slice(a, mTiles*kc*mr)
		bs := unsafe.Slice(b, (nTiles-1)*bstep+(kc-1)*ldb+nr)
		cs := unsafe.Slice(c, (mTiles*mr-1)*ldc+nTiles*nr)
		for jr := 0; jr < nTiles; jr++ {
			for ir := 0; ir < mTiles; ir++ {
				for i := 0; i < mr; i++ {
					for j := 0; j < nr; j++ {
						var s float32
						for p := 0; p < kc; p++ {
							s += as[ir*kc*mr+p*mr+i] * bs[jr*bstep+p*ldb+j]
						}
						ci := (ir*mr+i)*ldc + jr*nr + j
						switch accum {
						case 1:
							s += cs[ci]
						case 2:
							s += unsafe.Slice(bias, nTiles*nr)[jr*nr+j]
						}
						cs[ci] = s
					}
				}
			}
		}
	}
}

// goBlockA is a pure-Go gemmKernel.blockA (A read unpacked, row stride
// lda) for driver tests.
func goBlockA(mr, nr int) func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32) {
	return func(a, b, c *float32, kc, ldb, bstep, ldc, mTiles, nTiles, accum, lda int, bias *float32) {
		as := unsafe.Slice(a, (mTiles*mr-1)*lda+kc)
		bs := unsafe.Slice(b, (nTiles-1)*bstep+(kc-1)*ldb+nr)
		cs := unsafe.Slice(c, (mTiles*mr-1)*ldc+nTiles*nr)
		for jr := 0; jr < nTiles; jr++ {
			for i := 0; i < mTiles*mr; i++ {
				for j := 0; j < nr; j++ {
					var s float32
					for p := 0; p < kc; p++ {
						s += as[i*lda+p] * bs[jr*bstep+p*ldb+j]
					}
					ci := i*ldc + jr*nr + j
					switch accum {
					case 1:
						s += cs[ci]
					case 2:
						s += unsafe.Slice(bias, nTiles*nr)[jr*nr+j]
					}
					cs[ci] = s
				}
			}
		}
	}
}

// TestSgemmDriver runs the packed driver with goBlock kernels of several
// tile shapes and small cache blocks, so every loop of gemm and macro (jc,
// pc, ic, edge tiles, direct B, call chunking) runs many times, each with
// and without an unpacked-A kernel (macroA).
func TestSgemmDriver(t *testing.T) {
	kernels := []*gemmKernel{
		{name: "go6x16", mr: 6, nr: 16, mc: 12, kc: 7, nc: 48},
		{name: "go12x32", mr: 12, nr: 32, mc: 24, kc: 5, nc: 64},
		{name: "go12x32big", mr: 12, nr: 32, mc: 144, kc: 192, nc: 4096},
		{name: "go8x12", mr: 8, nr: 12, mc: 16, kc: 9, nc: 36},
		{name: "go3x5", mr: 3, nr: 5, mc: 6, kc: 4, nc: 10},
	}
	rng := rand.New(rand.NewSource(7))
	var expects []*gemmExpect
	for _, s := range [][3]int{{1, 1, 1}, {13, 33, 17}, {25, 65, 11}, {30, 70, 40}, {2, 50, 9}, {40, 3, 6}, {24, 64, 10}} {
		for tr := 0; tr < 4; tr++ {
			ab := alphaBetas[rng.Intn(len(alphaBetas))]
			cs := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], alpha: ab[0], beta: ab[1],
				padA: rng.Intn(4), padB: rng.Intn(4), padC: rng.Intn(4), offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16)}
			expects = append(expects, newGemmExpect(cs, rng.Int63()))
		}
	}
	// Cases the unpacked-A path takes: A not transposed, alpha 1.
	for _, s := range [][3]int{{13, 33, 17}, {25, 65, 11}, {31, 70, 40}, {7, 50, 9}, {40, 3, 6}} {
		for tr := 0; tr < 2; tr++ {
			cs := gemmCase{transB: tr == 1, m: s[0], n: s[1], k: s[2], alpha: 1, beta: float32(tr) * 0.5,
				padA: rng.Intn(4), padB: rng.Intn(4), padC: rng.Intn(4), offA: rng.Intn(16), offB: rng.Intn(16), offC: rng.Intn(16)}
			expects = append(expects, newGemmExpect(cs, rng.Int63()))
		}
	}
	var all []*gemmKernel
	for _, kn := range kernels {
		kn.block = goBlock(kn.mr, kn.nr)
		withA := *kn
		withA.name += "+blockA"
		withA.blockA = goBlockA(kn.mr, kn.nr)
		all = append(all, kn, &withA)
	}
	for _, kn := range all {
		for _, threads := range []int{1, 2, 3} {
			f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmParallel(kn, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
			}
			for _, e := range expects {
				if _, ok := runGemm(t, fmt.Sprintf("%s/threads=%d", kn.name, threads), f, e); !ok {
					return
				}
			}
		}
	}
}

// TestSgemmPacking compares each level's packing routines (assembly where
// the kernel has them) with the Go loops of the same kernel, over block
// sizes that cover every tail of the 8-column and micro-panel steps, both
// transposes, unaligned offsets and alpha ≠ 1, with NaN guards around the
// destination and the source checked unchanged.
func TestSgemmPacking(t *testing.T) {
	for _, l := range allLevels {
		if l == Generic || !Supported(l) {
			continue
		}
		kn := gemmKernelFor(l)
		if kn == nil {
			continue
		}
		goKn := *kn
		goKn.packAAsm, goKn.packATAsm, goKn.packBAsm, goKn.packBTAsm = nil, nil, nil, nil
		rng := rand.New(rand.NewSource(17))
		nan := float32(math.NaN())
		const guard = 64
		for _, trans := range []bool{false, true} {
			for _, alpha := range []float32{1, -0.75} {
				for mc := 1; mc <= 3*kn.mr+1; mc += 1 + rng.Intn(3) {
					for kc := 0; kc <= 2*16+3; kc++ {
						rows, cols := mc, kc // op(A) is mc×kc
						if trans {
							rows, cols = kc, mc
						}
						lda := cols + rng.Intn(5)
						off := rng.Intn(16)
						src := make([]float32, off+rows*lda+8)
						for i := range src {
							src[i] = rng.Float32()*2 - 1
						}
						orig := append([]float32(nil), src...)
						np := gemmRoundUp(mc, kn.mr)
						got := make([]float32, 2*guard+np*kc)
						want := make([]float32, len(got))
						for i := range got {
							got[i], want[i] = nan, nan
						}
						// op(A) block at (0, 0) of a source that starts at off.
						kn.packA(got[guard:guard+np*kc], trans, src[off:], lda, 0, 0, mc, kc, alpha)
						goKn.packA(want[guard:guard+np*kc], trans, src[off:], lda, 0, 0, mc, kc, alpha)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v packA trans=%v alpha=%v mc=%d kc=%d lda=%d off=%d: element %d = %v, Go loop %v",
									l, trans, alpha, mc, kc, lda, off, i-guard, got[i], want[i])
							}
						}
						for i := range src {
							if math.Float32bits(src[i]) != math.Float32bits(orig[i]) {
								t.Fatalf("%v packA changed its source at %d", l, i)
							}
						}
					}
				}
				if alpha != 1 {
					continue
				}
				for nc := 1; nc <= 3*kn.nr+1; nc += 1 + rng.Intn(4) {
					for kc := 0; kc <= 2*16+3; kc += 1 + rng.Intn(2) {
						rows, cols := kc, nc // op(B) is kc×nc
						if trans {
							rows, cols = nc, kc
						}
						ldb := cols + rng.Intn(5)
						off := rng.Intn(16)
						src := make([]float32, off+rows*ldb+8)
						for i := range src {
							src[i] = rng.Float32()*2 - 1
						}
						np := gemmRoundUp(nc, kn.nr)
						got := make([]float32, 2*guard+np*kc)
						want := make([]float32, len(got))
						for i := range got {
							got[i], want[i] = nan, nan
						}
						kn.packB(got[guard:guard+np*kc], trans, src[off:], ldb, 0, 0, kc, nc)
						goKn.packB(want[guard:guard+np*kc], trans, src[off:], ldb, 0, 0, kc, nc)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v packB trans=%v nc=%d kc=%d ldb=%d off=%d: element %d = %v, Go loop %v",
									l, trans, nc, kc, ldb, off, i-guard, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmDirectB checks that reading B in place (directB) gives C bit for
// bit equal to packing it, with every level's kernel: partial right edges
// (packed alone), k over several kc blocks, A transposed or scaled, beta,
// and a row stride of B larger than n.
func TestSgemmDirectB(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, l := range allLevels {
		if !Supported(l) || l == Generic {
			continue
		}
		inPlace, packed := *gemmKernelFor(l), *gemmKernelFor(l)
		inPlace.directBMaxM, packed.directBMaxM = 256, 0
		for _, s := range []struct {
			m, n, k, ldb int
			transA       bool
			alpha, beta  float32
		}{
			{64, 256, 832, 256, true, 1, 1},
			{64, 77, 300, 80, true, 1, 0},
			{37, 3 * inPlace.nr, 600, 3*inPlace.nr + 5, false, 1, 0.5},
			{256, inPlace.nr + 1, 513, inPlace.nr + 1, false, 1.5, 1},
			{1, 2*inPlace.nr - 1, 64, 2*inPlace.nr - 1, true, 1, 0},
		} {
			if !inPlace.directB(false, s.m, s.ldb) || packed.directB(false, s.m, s.ldb) {
				t.Fatalf("%v %+v: directB does not select the in-place path", l, s)
			}
			lda := s.k
			if s.transA {
				lda = s.m
			}
			a, b, c0 := make([]float32, s.m*s.k), make([]float32, s.k*s.ldb), make([]float32, s.m*s.n)
			for _, x := range [][]float32{a, b, c0} {
				for i := range x {
					x[i] = rng.Float32()*2 - 1
				}
			}
			want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
			sgemmSerial(&packed, s.transA, false, s.m, s.n, s.k, s.alpha, a, lda, b, s.ldb, s.beta, want, s.n, nil)
			sgemmSerial(&inPlace, s.transA, false, s.m, s.n, s.k, s.alpha, a, lda, b, s.ldb, s.beta, got, s.n, nil)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v %+v: C[%d] = %g in place, %g packed", l, s, i, got[i], want[i])
				}
			}
			// And against the reference, at float32 rounding (sums of up
			// to 832 products of values in [-1, 1]: errors up to 5e-5 seen).
			ref := append([]float32(nil), c0...)
			sgemmGeneric(s.transA, false, s.m, s.n, s.k, s.alpha, a, lda, b, s.ldb, s.beta, ref, s.n)
			for i := range got {
				if d := math.Abs(float64(got[i] - ref[i])); d > 2e-4 {
					t.Fatalf("%v %+v: C[%d] = %g, reference %g", l, s, i, got[i], ref[i])
				}
			}
		}
	}
	if kn := gemmKernelFor(level); kn != nil && kn.directB(false, 64, 1024) {
		t.Errorf("directB reads B in place with a row stride of 1024 floats")
	}
}
