package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttnRows checks the one-call row passes of every level against the
// row-at-a-time primitives of the same level, bit for bit (the AVX-512
// loop repeats their operations in their order, so the tolerance is zero):
// rows of every limit from none to the full stride, -Inf entries (masked
// keys), rows with no visible key, running maxima above and below the row's
// own, and a NaN that must reach the output.
func TestAttnRows(t *testing.T) {
	inf := float32(math.Inf(1))
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, ld := range []int{16, 32, 48, 64, 80, 112} {
			t.Run(fmt.Sprintf("ld=%d", ld), func(t *testing.T) {
				rows := ld + 3
				lim := make([]int32, rows)
				for i := range lim {
					lim[i] = int32(i % (ld + 1))
				}
				lim[rows-1] = -1
				s := make([]float32, rows*ld)
				for i := range s {
					s[i] = 4 * float32(rng.NormFloat64())
					if rng.IntN(9) == 0 {
						s[i] = -inf
					}
				}
				for c := range ld { // a row whose every key is hidden
					s[(ld-1)*ld+c] = -inf
				}
				s[(ld-2)*ld+1] = float32(math.NaN())
				mIn := make([]float32, rows)
				for i := range mIn {
					switch i % 3 {
					case 0:
						mIn[i] = -inf
					case 1:
						mIn[i] = 6 * float32(rng.NormFloat64())
					default:
						mIn[i] = 20
					}
				}
				mIn[ld-1] = -inf
				s2 := append([]float32(nil), s...)
				mOut, sum := make([]float32, rows), make([]float32, rows)
				mOut2, sum2 := make([]float32, rows), make([]float32, rows)
				attnRowsFwd(l, s, ld, lim, mIn, mOut, sum)
				attnRowsFwdLoop(s2, ld, lim, mIn, mOut2, sum2)
				rowsSame(t, "fwd s", s, s2)
				rowsSame(t, "fwd mOut", mOut, mOut2)
				rowsSame(t, "fwd sum", sum, sum2)
				if !math.IsNaN(float64(sum[ld-2])) {
					t.Errorf("fwd: the row with a NaN sums to %v", sum[ld-2])
				}
				if sum[ld-1] != 0 || !math.IsInf(float64(mOut[ld-1]), -1) {
					t.Errorf("fwd: the fully hidden row gives sum %v, max %v; want 0, -Inf", sum[ld-1], mOut[ld-1])
				}

				// Backward: probabilities from lse, score gradients from dp.
				for i := range s {
					s[i] = 3 * float32(rng.NormFloat64())
					if rng.IntN(9) == 0 {
						s[i] = -inf
					}
				}
				dp := make([]float32, len(s))
				for i := range dp {
					dp[i] = float32(rng.NormFloat64())
				}
				lse, dd := make([]float32, rows), make([]float32, rows)
				for i := range lse {
					lse[i] = 2 + float32(rng.NormFloat64())
					dd[i] = float32(rng.NormFloat64())
				}
				s2 = append(s2[:0], s...)
				dp2 := append([]float32(nil), dp...)
				attnRowsBwd(l, s, dp, ld, lim, lse, dd)
				attnRowsBwdLoop(s2, dp2, ld, lim, lse, dd)
				rowsSame(t, "bwd p", s, s2)
				rowsSame(t, "bwd ds", dp, dp2)
			})
		}
	})
}

func rowsSame(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v (%#x), row-at-a-time %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestAttnGemmT checks attnGemmT (Aᵀ·B with A read in place where a kernel
// allows it) against transposing A and calling attnGemm, bit for bit: the
// in-place kernel runs the same products in the same order.
func TestAttnGemmT(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(9, 10))
		rp, cp := attnPad(l)
		for _, sh := range [][3]int{{rp, cp, 1}, {32, 16, 26}, {6 * rp, 2 * cp, 7}, {4 * rp, 3 * cp, 32}, {5, 9, 4}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, acc := range []bool{false, true} {
				ldat, ldb, ldc := m+3, n+1, n+2
				at := make([]float32, k*ldat)
				b := make([]float32, k*ldb)
				c := make([]float32, m*ldc)
				for _, x := range [][]float32{at, b, c} {
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
				}
				want := append([]float32(nil), c...)
				tr := make([]float32, m*k)
				for i := range m {
					for p := range k {
						tr[i*k+p] = at[p*ldat+i]
					}
				}
				attnGemm(l, want, ldc, tr, k, b, ldb, m, n, k, acc)
				attnGemmT(l, c, ldc, at, ldat, b, ldb, m, n, k, acc, nil)
				rowsSame(t, fmt.Sprintf("m=%d n=%d k=%d acc=%v", m, n, k, acc), c, want)
			}
		}
	})
}

// TestAttnScaleRows checks the output normalisation of every level against
// the Go loop bit for bit (one division and one product per element
// either way): widths with and without a partial vector, rows with l = 0
// (zeros, whatever the source holds: -0, Inf, NaN) and strided operands.
func TestAttnScaleRows(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, d := range []int{1, 7, 16, 17, 33, 64} {
			rows, ldd, lds := 9, d+5, d+3
			src := make([]float32, rows*lds)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			src[0] = float32(math.Copysign(0, -1))
			src[lds] = float32(math.Inf(1))
			src[2*lds] = float32(math.NaN())
			ls := make([]float32, rows)
			for i := range ls {
				ls[i] = 0.5 + 3*rng.Float32()
			}
			ls[0], ls[1], ls[2] = 0, 0, 0
			ls[4] = 1e-30
			got := make([]float32, rows*ldd)
			for i := range got {
				got[i] = 7
			}
			want := append([]float32(nil), got...)
			attnScaleRows(l, got, ldd, src, lds, ls, d)
			attnScaleRowsLoop(want, ldd, src, lds, ls, d)
			rowsSame(t, fmt.Sprintf("d=%d", d), got, want)
		}
	})
}
