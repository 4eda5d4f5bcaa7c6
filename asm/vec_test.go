package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Test scaffolding shared by the vector, exp, softmax, norm, gelu and
// attention tests.

// maxTail covers every tail path of every variant: 2·(vector width × unroll)+1
// for the widest variant (AVX-512: 16 lanes × 4).
const maxTail = 2*16*4 + 1

var guardBits = math.Float32bits(float32(math.NaN())) | 0x1234 // a NaN no kernel produces

// region is a slice of n elements at element offset off inside a buffer
// whose other elements are guard NaNs.
type region struct {
	buf      []float32
	off, n   int
	s        []float32
	snapshot []float32
}

const guardLen = 16

func newRegion(n, off int) *region {
	buf := make([]float32, guardLen+off+n+guardLen)
	for i := range buf {
		buf[i] = math.Float32frombits(guardBits)
	}
	r := &region{buf: buf, off: off, n: n}
	r.s = buf[guardLen+off : guardLen+off+n : guardLen+off+n]
	return r
}

// fill sets the region's values from f and remembers them.
func (r *region) fill(f func(i int) float32) *region {
	for i := range r.s {
		r.s[i] = f(i)
	}
	r.snapshot = append([]float32(nil), r.s...)
	return r
}

// checkGuards fails if anything outside the region changed.
func (r *region) checkGuards(t *testing.T, what string) {
	t.Helper()
	for i, v := range r.buf {
		if i >= guardLen+r.off && i < guardLen+r.off+r.n {
			continue
		}
		if math.Float32bits(v) != guardBits {
			t.Fatalf("%s: guard element %d (region offset %d, n %d) overwritten with %v", what, i, r.off, r.n, v)
		}
	}
}

// checkUnchanged fails if the region differs from its fill values (inputs).
func (r *region) checkUnchanged(t *testing.T, what string) {
	t.Helper()
	r.checkGuards(t, what)
	for i, v := range r.s {
		if math.Float32bits(v) != math.Float32bits(r.snapshot[i]) {
			t.Fatalf("%s: input element %d changed from %v to %v", what, i, r.snapshot[i], v)
		}
	}
}

// forLevels runs f once per SIMD level available here with that level set,
// and logs the levels this CPU or build lacks.
func forLevels(t *testing.T, f func(t *testing.T, l Level)) {
	t.Helper()
	for _, l := range []Level{Generic, AVX2, AVX512, NEON} {
		t.Run(l.String(), func(t *testing.T) {
			if !Supported(l) {
				t.Skipf("%v not supported by this CPU/build", l)
			}
			old := SetLevel(l)
			defer SetLevel(old)
			f(t, l)
		})
	}
}

// offsetsFor returns the offsets to try for length n: all 16 for short
// slices, a few for long ones.
func offsetsFor(n int) []int {
	if n <= maxTail {
		return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	}
	return []int{0, 3, 8, 13}
}

// testSizes are all tail sizes plus a few long rows.
func testSizes() []int {
	var ns []int
	for n := 0; n <= maxTail; n++ {
		ns = append(ns, n)
	}
	return append(ns, 197, 512, 768, 1031, 3072)
}

func randn(rng *rand.Rand) float32 { return float32(rng.NormFloat64()) }

// ulpDiff returns |got-want| in units of the float32 ulp at want.
func ulpDiff(got float32, want float64) float64 {
	if math.IsInf(want, 0) || math.IsNaN(want) {
		if float64(got) == want || (math.IsNaN(want) && got != got) {
			return 0
		}
		return math.Inf(1)
	}
	w := float32(want)
	if math.IsInf(float64(w), 0) { // want rounds to ±Inf
		if got == w {
			return 0
		}
		w = math.MaxFloat32
	}
	a := math.Abs(float64(w))
	var ulp float64
	if a < 0x1p-126 {
		ulp = 0x1p-149
	} else {
		_, e := math.Frexp(a) // a = f·2^e, f in [0.5,1)
		ulp = math.Ldexp(1, e-24)
	}
	return math.Abs(float64(got)-want) / ulp
}

// reductionTol is a rigorous bound on the rounding error of a float32 sum of
// n terms whose absolute values add up to mag, with extra slack for the
// float32 products: γ_{n+2}·mag.
func reductionTol(n int, mag float64) float64 {
	return float64(n+2) * 0x1p-24 * mag * 1.01
}

func TestDotSumMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				x := newRegion(n, off).fill(func(int) float32 { return randn(rng) })
				y := newRegion(n, (off*7)%16).fill(func(int) float32 { return randn(rng) })
				var d, dmag, s, smag float64
				m := math.Inf(-1)
				for i := range x.s {
					d += float64(x.s[i]) * float64(y.s[i])
					dmag += math.Abs(float64(x.s[i]) * float64(y.s[i]))
					s += float64(x.s[i])
					smag += math.Abs(float64(x.s[i]))
					m = math.Max(m, float64(x.s[i]))
				}
				name := fmt.Sprintf("%v n=%d off=%d", l, n, off)
				if got := Dot(x.s, y.s); math.Abs(float64(got)-d) > reductionTol(n, dmag) {
					t.Fatalf("Dot %s = %v, want %v (tol %g)", name, got, d, reductionTol(n, dmag))
				}
				if got := Sum(x.s); math.Abs(float64(got)-s) > reductionTol(n, smag) {
					t.Fatalf("Sum %s = %v, want %v", name, got, s)
				}
				if got := Max(x.s); float64(got) != m {
					t.Fatalf("Max %s = %v, want %v", name, got, m)
				}
				x.checkUnchanged(t, "x "+name)
				y.checkUnchanged(t, "y "+name)
			}
		}
	})
}

func TestMaxSpecial(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		for n := 1; n <= maxTail; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Inf(-1))
			}
			if got := Max(x); !math.IsInf(float64(got), -1) {
				t.Fatalf("Max(all -Inf, n=%d) = %v", n, got)
			}
			x[n-1] = -3
			if got := Max(x); got != -3 {
				t.Fatalf("Max(-Inf..., -3, n=%d) = %v", n, got)
			}
			x[0] = float32(math.Inf(1))
			if got := Max(x); !math.IsInf(float64(got), 1) {
				t.Fatalf("Max(+Inf..., n=%d) = %v", n, got)
			}
		}
	})
}

func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				name := fmt.Sprintf("%v n=%d off=%d", l, n, off)
				x := newRegion(n, off).fill(func(int) float32 { return randn(rng) })
				y := newRegion(n, (off+5)%16).fill(func(int) float32 { return randn(rng) })
				alpha := randn(rng)

				// Axpy: one rounding, or none beyond a fused multiply-add.
				yy := newRegion(n, (off+9)%16).fill(func(i int) float32 { return y.s[i] })
				Axpy(alpha, x.s, yy.s)
				for i := range yy.s {
					want := float64(y.s[i]) + float64(alpha)*float64(x.s[i])
					tol := 0x1p-23 * (math.Abs(float64(y.s[i])) + math.Abs(float64(alpha)*float64(x.s[i])))
					if math.Abs(float64(yy.s[i])-want) > tol {
						t.Fatalf("Axpy %s [%d] = %v, want %v", name, i, yy.s[i], want)
					}
				}
				yy.checkGuards(t, "Axpy "+name)

				sc := newRegion(n, (off+2)%16).fill(func(i int) float32 { return x.s[i] })
				Scale(alpha, sc.s)
				for i := range sc.s {
					if sc.s[i] != alpha*x.s[i] {
						t.Fatalf("Scale %s [%d] = %v, want %v", name, i, sc.s[i], alpha*x.s[i])
					}
				}
				sc.checkGuards(t, "Scale "+name)

				dst := newRegion(n, (off+11)%16)
				Add(dst.s, x.s, y.s)
				for i := range dst.s {
					if dst.s[i] != x.s[i]+y.s[i] {
						t.Fatalf("Add %s [%d] = %v, want %v", name, i, dst.s[i], x.s[i]+y.s[i])
					}
				}
				dst.checkGuards(t, "Add "+name)
				Mul(dst.s, x.s, y.s)
				for i := range dst.s {
					if dst.s[i] != x.s[i]*y.s[i] {
						t.Fatalf("Mul %s [%d] = %v, want %v", name, i, dst.s[i], x.s[i]*y.s[i])
					}
				}
				dst.checkGuards(t, "Mul "+name)
				x.checkUnchanged(t, "x "+name)
				y.checkUnchanged(t, "y "+name)

				// In place: dst aliases x.
				al := newRegion(n, off).fill(func(i int) float32 { return x.s[i] })
				Add(al.s, al.s, y.s)
				for i := range al.s {
					if al.s[i] != x.s[i]+y.s[i] {
						t.Fatalf("Add in place %s [%d] = %v", name, i, al.s[i])
					}
				}
			}
		}
	})
}

func TestVecPanics(t *testing.T) {
	mustPanic(t, "Dot", func() { Dot(make([]float32, 3), make([]float32, 4)) })
	mustPanic(t, "Axpy", func() { Axpy(1, make([]float32, 3), make([]float32, 4)) })
	mustPanic(t, "Add", func() { Add(make([]float32, 3), make([]float32, 3), make([]float32, 4)) })
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic on mismatched lengths", name)
		}
	}()
	f()
}
