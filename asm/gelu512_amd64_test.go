//go:build !purego

package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGeluAVX512MatchesAVX2 checks that the AVX-512 GELU kernels return the
// AVX2 kernels' bits exactly (tolerance 0: they run the same instructions
// lane for lane), on a dense sweep, random values, the special values and
// every tail length, with the output written nowhere past the slice.
func TestGeluAVX512MatchesAVX2(t *testing.T) {
	if !Supported(AVX512) {
		t.Skip("needs AVX-512")
	}
	rng := rand.New(rand.NewPCG(18, 5))
	var xs []float32
	for i := range 24001 { // [-12, 12], both branches and the negative tail
		xs = append(xs, float32(-12+24*float64(i)/24000))
	}
	for range 20000 {
		xs = append(xs, geluGen(rng), math.Float32frombits(rng.Uint32()))
	}
	nan := float32(math.NaN())
	xs = append(xs, 0, float32(math.Copysign(0, -1)), nan, -nan, float32(math.Inf(1)), float32(math.Inf(-1)),
		0.5*math.Sqrt2, -0.5*math.Sqrt2, 10*math.Sqrt2, -10*math.Sqrt2, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32)
	dys := make([]float32, len(xs))
	for i := range dys {
		dys[i] = float32(rng.NormFloat64())
	}
	same := func(what string, got, want []float32, x []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s(%v) (element %d of %d): AVX-512 %v (%#08x), AVX2 %v (%#08x)", what, x[i], i, len(x),
					got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
	}
	// Every length up to 40 (all tails, with and without full vectors),
	// then the whole set.
	for n := 0; n <= 40; n++ {
		for off := 0; off+n <= 200; off += 37 {
			x, dy := xs[len(xs)-1-off-n:len(xs)-1-off], dys[off:off+n]
			want, got := make([]float32, n), make([]float32, n+1)
			got[n] = 42 // sentinel past the end
			geluAVX2(want, x)
			geluAVX512(got[:n], x)
			same("geluAVX512", got[:n], want, x)
			geluBackwardAVX2(want, x, dy)
			geluBackwardAVX512(got[:n], x, dy)
			same("geluBackwardAVX512", got[:n], want, x)
			if got[n] != 42 {
				t.Fatalf("length %d: wrote past the end", n)
			}
		}
	}
	want, got := make([]float32, len(xs)), make([]float32, len(xs))
	geluAVX2(want, xs)
	geluAVX512(got, xs)
	same("geluAVX512", got, want, xs)
	geluBackwardAVX2(want, xs, dys)
	geluBackwardAVX512(got, xs, dys)
	same("geluBackwardAVX512", got, want, xs)
	// In place (dst aliasing x, dx aliasing dy), as the tensor package calls them.
	a, b := append([]float32(nil), xs...), append([]float32(nil), dys...)
	geluAVX512(a, a)
	geluAVX2(want, xs)
	same("geluAVX512 in place", a, want, xs)
	geluBackwardAVX512(b, xs, b)
	geluBackwardAVX2(want, xs, dys)
	same("geluBackwardAVX512 in place", b, want, xs)
}
