package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// GELU tolerance: an error of a few float32 ulps of |x| (the scale at which
// x·Φ(x) is formed; PyTorch's 0.5·x·(1+erf) has the same absolute accuracy)
// plus a few ulps of the result.
func actTol(x, ref float64) float64 {
	return 4 * 0x1p-24 * (math.Abs(x) + math.Abs(ref))
}

func actCheck(x float32, got float32, ref float64) string {
	if math.Abs(float64(got)-ref) > actTol(float64(x), ref) {
		return fmt.Sprintf("got %v, want %v (diff %g, tol %g)", got, ref, float64(got)-ref, actTol(float64(x), ref))
	}
	return ""
}

// gradCheck checks dy·(t1+t2) with a tolerance of a few ulps of the
// summands' magnitudes (and of |x|, the scale of the inner argument).
func gradCheck(x, dy, got float32, t1, t2 float64) string {
	ref := float64(dy) * (t1 + t2)
	tol := 4 * 0x1p-24 * math.Abs(float64(dy)) * (math.Abs(float64(x)) + math.Abs(t1) + math.Abs(t2))
	if math.Abs(float64(got)-ref) > tol {
		return fmt.Sprintf("got %v, want %v (diff %g, tol %g)", got, ref, float64(got)-ref, tol)
	}
	return ""
}

func phi64(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func geluGen(rng *rand.Rand) float32 {
	if rng.IntN(8) == 0 {
		return float32(rng.NormFloat64() * 30)
	}
	return float32(rng.NormFloat64() * 3)
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

const tanhK = 0.7978845608028654 // √(2/π)

func TestGelu(t *testing.T) {
	testUnary(t, "Gelu", Gelu, geluGen, func(x, got float32) string {
		return actCheck(x, got, float64(x)*phi64(float64(x)))
	})
	testBinaryGrad(t, "GeluBackward", GeluBackward, geluGen, func(x, dy, got float32) string {
		xf := float64(x)
		return gradCheck(x, dy, got, phi64(xf), xf*math.Exp(-xf*xf/2)/math.Sqrt(2*math.Pi))
	})
}

func TestGeluTanh(t *testing.T) {
	testUnary(t, "GeluTanh", GeluTanh, geluGen, func(x, got float32) string {
		xf := float64(x)
		return actCheck(x, got, 0.5*xf*(1+math.Tanh(tanhK*(xf+0.044715*xf*xf*xf))))
	})
	testBinaryGrad(t, "GeluTanhBackward", GeluTanhBackward, geluGen, func(x, dy, got float32) string {
		xf := float64(x)
		th := math.Tanh(tanhK * (xf + 0.044715*xf*xf*xf))
		return gradCheck(x, dy, got, 0.5*(1+th), 0.5*xf*(1-th*th)*tanhK*(1+3*0.044715*xf*xf))
	})
}

func TestQuickGelu(t *testing.T) {
	testUnary(t, "QuickGelu", QuickGelu, geluGen, func(x, got float32) string {
		return actCheck(x, got, float64(x)*sigmoid64(1.702*float64(x)))
	})
	testBinaryGrad(t, "QuickGeluBackward", QuickGeluBackward, geluGen, func(x, dy, got float32) string {
		xf := float64(x)
		s := sigmoid64(1.702 * xf)
		return gradCheck(x, dy, got, s, 1.702*xf*s*(1-s))
	})
}

// TestGeluDense sweeps x over [-12, 12] finely, including the negative tail
// where 1+erf would cancel.
func TestGeluDense(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		const n = 24001
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(-12 + 24*float64(i)/(n-1))
		}
		y := make([]float32, n)
		Gelu(y, x)
		worstRel := 0.0
		for i, v := range x {
			ref := float64(v) * phi64(float64(v))
			if msg := actCheck(v, y[i], ref); msg != "" {
				t.Fatalf("%v Gelu(%v): %s", l, v, msg)
			}
			if ref != 0 && v > -9 {
				worstRel = math.Max(worstRel, math.Abs(float64(y[i])-ref)/math.Abs(ref))
			}
		}
		t.Logf("%v: worst relative error on [-9, 12]: %.3g", l, worstRel)
	})
}

// TestGeluDeriv checks GeluDeriv against Gelu and GeluBackward at every
// level, bit for bit (tolerance 0: the derivative is what GeluBackward
// multiplies by dy, so Mul(dx, deriv, dy) must be its result exactly; a
// NaN need only be a NaN), on a sweep, random and special values, every
// length up to 40 and one longer than a chunk of the two-pass fallback,
// with dst aliasing x and nothing written past either output.
func TestGeluDeriv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 31))
	var xs []float32
	for i := range 2401 {
		xs = append(xs, float32(-12+24*float64(i)/2400))
	}
	for range 2000 {
		xs = append(xs, geluGen(rng), math.Float32frombits(rng.Uint32()))
	}
	nan := float32(math.NaN())
	xs = append(xs, 0, float32(math.Copysign(0, -1)), nan, float32(math.Inf(1)), float32(math.Inf(-1)),
		0.5*math.Sqrt2, -0.5*math.Sqrt2, 10*math.Sqrt2, -10*math.Sqrt2, math.MaxFloat32, -math.MaxFloat32)
	dys := make([]float32, len(xs))
	for i := range dys {
		dys[i] = float32(rng.NormFloat64())
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	forLevels(t, func(t *testing.T, l Level) {
		check := func(x, dy []float32, alias bool) {
			t.Helper()
			n := len(x)
			want, wantGrad := make([]float32, n), make([]float32, n)
			Gelu(want, x)
			GeluBackward(wantGrad, x, dy)
			got, deriv := make([]float32, n+1), make([]float32, n+1)
			got[n], deriv[n] = 42, 42
			copy(got, x)
			in := x
			if alias {
				in = got[:n]
			}
			GeluDeriv(got[:n], deriv[:n], in)
			grad := make([]float32, n)
			Mul(grad, deriv[:n], dy)
			for i := range n {
				if !same(got[i], want[i]) {
					t.Fatalf("%v n=%d alias=%v: GeluDeriv value at %v = %v, Gelu %v", l, n, alias, x[i], got[i], want[i])
				}
				if !same(grad[i], wantGrad[i]) {
					t.Fatalf("%v n=%d alias=%v: Mul(deriv, dy) at x=%v dy=%v = %v, GeluBackward %v", l, n, alias, x[i], dy[i], grad[i], wantGrad[i])
				}
			}
			if got[n] != 42 || deriv[n] != 42 {
				t.Fatalf("%v n=%d: wrote past the end", l, n)
			}
		}
		for n := 0; n <= 40; n++ {
			for off := 0; off+n <= 300; off += 37 {
				x := xs[len(xs)-1-off-n : len(xs)-1-off]
				check(x, dys[off:off+n], false)
				check(x, dys[off:off+n], true)
			}
		}
		check(xs, dys, false)
		check(xs, dys, true)
	})
}
