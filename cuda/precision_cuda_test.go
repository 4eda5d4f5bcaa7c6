//go:build cuda && cgo

package cuda

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// roundMantissa rounds x to nearest (ties to even) keeping the top 23-drop
// mantissa bits: drop 13 is TF32, 16 bfloat16.
func roundMantissa(x float32, drop uint) float32 {
	u := math.Float32bits(x)
	if u&0x7f800000 == 0x7f800000 {
		return x
	}
	half, lsb := uint32(1)<<(drop-1), (u>>drop)&1
	return math.Float32frombits((u + half - 1 + lsb) &^ (1<<drop - 1))
}

// TestGEMMPrecision multiplies N(0,1) matrices (64×256 by 256×48) in each
// GEMM mode and holds the relative error ‖C − C64‖/‖C64‖ against the
// float64 product to the mode's bound: fp32 1e-6 (measured 2.5e-8 on the
// emulator); tf32 1.5e-3 and bf16 1.2e-2, about 5 times what rounding both
// inputs to nearest with 10 or 7 mantissa bits gives (computed below:
// 2.92e-4 and 2.36e-3 for these matrices; a GPU that truncates doubles it). The error must
// also be at least half the predicted one in the tensor-core modes, so a
// mode that silently runs in float32 fails. Under the CPU emulator of the
// CUDA runtime (GOCOCA_EMU_CHILD) the result must be exactly the product of
// the rounded inputs accumulated in float32, which is what the emulator
// computes for those modes.
func TestGEMMPrecision(t *testing.T) {
	if err := Probe(); err != nil {
		t.Skipf("no CUDA device, GPU test not run: %v", err)
	}
	emulated := os.Getenv("GOCOCA_EMU_CHILD") != ""
	const m, n, k = 64, 48, 256
	r := rand.New(rand.NewPCG(11, 12))
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	// product returns A·B with the inputs rounded (drop bits), summed in
	// float64 (exact) or in float32 in order of p (the emulator's order).
	product := func(drop uint, f32 bool) []float64 {
		out := make([]float64, m*n)
		for i := range m {
			for j := range n {
				var s float64
				var s32 float32
				for p := range k {
					x, y := a[i*k+p], b[p*n+j]
					if drop > 0 {
						x, y = roundMantissa(x, drop), roundMantissa(y, drop)
					}
					if f32 {
						s32 += x * y
					} else {
						s += float64(x) * float64(y)
					}
				}
				if f32 {
					s = float64(s32)
				}
				out[i*n+j] = s
			}
		}
		return out
	}
	relNorm := func(got []float32, ref []float64) float64 {
		var d, w float64
		for i, x := range got {
			d += (float64(x) - ref[i]) * (float64(x) - ref[i])
			w += ref[i] * ref[i]
		}
		return math.Sqrt(d / w)
	}
	exact := product(0, false)
	for _, c := range []struct {
		math  string
		drop  uint
		bound float64
	}{{"fp32", 0, 1e-6}, {"tf32", 13, 1.5e-3}, {"bf16", 16, 1.2e-2}} {
		be, err := New(Options{Math: c.math})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, m*n)
		be.Gemm(false, false, m, n, k, 1, a, k, 0, b, n, 0, 0, got, n, 0, 1)
		rel := relNorm(got, exact)
		pred := 0.0
		if c.drop > 0 {
			r64 := product(c.drop, false)
			var d, w float64
			for i := range r64 {
				d += (r64[i] - exact[i]) * (r64[i] - exact[i])
				w += exact[i] * exact[i]
			}
			pred = math.Sqrt(d / w)
		}
		t.Logf("%s: relative error %.3g (inputs rounded: %.3g; bound %.3g)", c.math, rel, pred, c.bound)
		if !(rel <= c.bound) {
			t.Errorf("%s: relative error %.3g > %.3g", c.math, rel, c.bound)
		}
		if c.drop > 0 && !(rel >= pred/2) {
			t.Errorf("%s: relative error %.3g, less than half of the %.3g that rounding the inputs gives: the mode does not round", c.math, rel, pred)
		}
		if emulated && c.drop > 0 {
			want := product(c.drop, true)
			for i, x := range got {
				if float64(x) != want[i] {
					t.Fatalf("%s: emulated C[%d] = %v, the rounded inputs' float32 product is %v", c.math, i, x, want[i])
				}
			}
		}
	}
}
