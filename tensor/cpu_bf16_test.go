package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gococa/gococa/asm"
)

// TestCPUBF16Gemm checks the bfloat16 backend's batched products against a
// float64 loop over the bfloat16 roundings of alpha·op(A) and op(B): what
// remains is float32 summation error. Measured here (AVX512_BF16, and the
// AVX2 and generic levels' rounded copies): at most 9.9e-8 of Σ|products|
// per element; the tolerance is 1e-6. The float32 backend misses the same
// reference by 5e-4 of Σ|products| or more on these operands (their
// bfloat16 rounding), so the test fails if the products are not taken in
// bfloat16.
func TestCPUBF16Gemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bf := CPUBF16()
	for _, c := range []struct {
		tA, tB         bool
		m, n, k, batch int
		alpha, beta    float32
		sA, sB         bool // stride 0 (broadcast) for A, B
	}{
		{false, true, 50, 96, 64, 1, 1, 1, false, false},
		{false, false, 33, 70, 129, 2, 0.5, 0, false, false},
		{true, false, 17, 40, 77, 3, 1, 0.25, false, true},
		{true, true, 64, 48, 300, 2, -1, 0, true, false},
		{false, true, 1, 200, 512, 1, 1, 0, false, false},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			ar, ac := c.m, c.k
			if c.tA {
				ar, ac = c.k, c.m
			}
			br, bc := c.k, c.n
			if c.tB {
				br, bc = c.n, c.k
			}
			lda, ldb, ldc := ac+3, bc+1, c.n+2
			strideA, strideB, strideC := ar*lda, br*ldb, c.m*ldc
			if c.sA {
				strideA = 0
			}
			if c.sB {
				strideB = 0
			}
			fill := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				return x
			}
			a := fill((c.batch-1)*strideA + ar*lda)
			b := fill((c.batch-1)*strideB + br*ldb)
			c0 := fill(c.batch * strideC)
			got := append([]float32(nil), c0...)
			f32 := append([]float32(nil), c0...)
			bf.Gemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, strideA, b, ldb, strideB, c.beta, got, ldc, strideC, c.batch)
			cpuBackend{}.Gemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, strideA, b, ldb, strideB, c.beta, f32, ldc, strideC, c.batch)
			var worst, worstF32 float64
			for q := 0; q < c.batch; q++ {
				for i := 0; i < c.m; i++ {
					for j := 0; j < c.n; j++ {
						var s, abs float64
						for p := 0; p < c.k; p++ {
							var x, y float32
							if c.tA {
								x = a[q*strideA+p*lda+i]
							} else {
								x = a[q*strideA+i*lda+p]
							}
							if c.tB {
								y = b[q*strideB+j*ldb+p]
							} else {
								y = b[q*strideB+p*ldb+j]
							}
							v := float64(asm.RoundBF16(c.alpha*x)) * float64(asm.RoundBF16(y))
							s += v
							abs += math.Abs(v)
						}
						at := q*strideC + i*ldc + j
						s += float64(c.beta) * float64(c0[at])
						abs += math.Abs(float64(c.beta) * float64(c0[at]))
						worst = max(worst, math.Abs(float64(got[at])-s)/abs)
						worstF32 = max(worstF32, math.Abs(float64(f32[at])-s)/abs)
					}
				}
			}
			t.Logf("error / Σ|products|: bf16 backend %.2g, float32 backend %.2g", worst, worstF32)
			if worst > 1e-6 {
				t.Errorf("bf16 backend misses the bfloat16 products by %.3g of Σ|products|, want ≤ 1e-6", worst)
			}
			if worstF32 < 1e-4 {
				t.Errorf("float32 backend within %.3g of the bfloat16 products: the case does not tell them apart", worstF32)
			}
			// Elements of C outside the m×n matrices are left alone.
			for q := 0; q < c.batch; q++ {
				for i := 0; i < c.m; i++ {
					for j := c.n; j < ldc; j++ {
						if at := q*strideC + i*ldc + j; got[at] != c0[at] {
							t.Fatalf("C[%d] outside the product changed", at)
						}
					}
				}
			}
		})
	}
}

// TestCPUBF16Linear trains nothing but checks one mixed-precision
// forward and backward (Linear, GELU, Linear, sum of squares) on the
// bfloat16 backend against float32: relative differences of the loss and
// of each gradient as ‖Δ‖/‖g‖. Measured: loss 2e-4, gradients 4e-3
// (bfloat16's 2⁻⁹ relative rounding, averaged over k = 256 products);
// the tolerances are 2e-3 and 2e-2. Master weights and gradients stay
// float32 tensors.
func TestCPUBF16Linear(t *testing.T) {
	run := func(b Backend) (loss float64, grads [][]float32) {
		old := SetBackend(b)
		defer SetBackend(old)
		g := NewRNG(3)
		x := New(32, 256)
		g.Normal(x, 0, 1)
		w1, b1 := New(256, 256), New(256)
		w2, b2 := New(64, 256), New(64)
		for _, p := range []*Tensor{w1, b1, w2, b2} {
			g.Normal(p, 0, 0.06)
			p.SetRequiresGrad(true)
		}
		y := Linear(GELU(Linear(x, w1, b1)), w2, b2)
		l := Sum(Mul(y, y), false)
		Backward(l)
		for _, p := range []*Tensor{w1, b1, w2, b2} {
			grads = append(grads, append([]float32(nil), p.Grad()...))
		}
		return float64(l.Data()[0]), grads
	}
	lf, gf := run(cpuBackend{})
	lb, gb := run(CPUBF16())
	rel := math.Abs(lb-lf) / math.Abs(lf)
	t.Logf("loss float32 %.6g, bf16 %.6g (relative %.2g)", lf, lb, rel)
	if rel > 2e-3 || rel == 0 {
		t.Errorf("bf16 loss %.6g vs float32 %.6g: relative %.3g, want in (0, 2e-3]", lb, lf, rel)
	}
	for i := range gf {
		var d, n float64
		for j := range gf[i] {
			d += math.Pow(float64(gb[i][j]-gf[i][j]), 2)
			n += math.Pow(float64(gf[i][j]), 2)
		}
		rel := math.Sqrt(d / n)
		t.Logf("gradient %d: ‖Δ‖/‖g‖ = %.2g", i, rel)
		if rel > 2e-2 {
			t.Errorf("gradient %d: ‖Δ‖/‖g‖ = %.3g, want ≤ 2e-2", i, rel)
		}
	}
}
