package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func softmaxRef(x []float32) (p []float64, lse float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	p = make([]float64, len(x))
	if math.IsInf(m, -1) {
		return p, m
	}
	s := 0.0
	for i, v := range x {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p, m + math.Log(s)
}

// softmaxInput is a random row, with about a quarter of the entries -Inf
// when masked is set.
func softmaxInput(rng *rand.Rand, n int, masked bool) func(int) float32 {
	return func(int) float32 {
		if masked && rng.IntN(4) == 0 {
			return float32(math.Inf(-1))
		}
		return float32(rng.NormFloat64() * 4)
	}
}

func TestSoftmaxRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				for _, masked := range []bool{false, true} {
					where := fmt.Sprintf("%v n=%d off=%d masked=%v", l, n, off, masked)
					x := newRegion(n, off).fill(softmaxInput(rng, n, masked))
					p, lse := softmaxRef(x.s)
					// exp's error, the rounding of x-max (relative error
					// |x-max|·2⁻²⁴ after exp), the sum and the final scaling.
					rtol := (expMaxUlp+3)*0x1p-24 + reductionTol(n, 1)
					dst := newRegion(n, (off+5)%16)
					SoftmaxRow(dst.s, x.s)
					for i, v := range dst.s {
						if math.Abs(float64(v)-p[i]) > (rtol+math.Abs(float64(x.s[i])-float64(Max(x.s)))*0x1p-24)*p[i] {
							t.Fatalf("SoftmaxRow %s [%d] = %v, want %v", where, i, v, p[i])
						}
					}
					dst.checkGuards(t, where)
					x.checkUnchanged(t, where)

					lg := newRegion(n, (off+9)%16)
					gotLse := LogSoftmaxRow(lg.s, x.s)
					if n > 0 && !(math.Abs(float64(gotLse)-lse) <= 4*0x1p-24*math.Abs(lse)+reductionTol(n, 1)) &&
						!(math.IsInf(lse, -1) && math.IsInf(float64(gotLse), -1)) {
						t.Fatalf("LogSoftmaxRow %s lse = %v, want %v", where, gotLse, lse)
					}
					for i, v := range lg.s {
						want := float64(x.s[i]) - lse
						if math.IsInf(float64(x.s[i]), -1) || math.IsInf(lse, -1) {
							if !math.IsInf(float64(v), -1) {
								t.Fatalf("LogSoftmaxRow %s [%d] = %v, want -Inf", where, i, v)
							}
							continue
						}
						tol := 4*0x1p-24*(math.Abs(float64(x.s[i]))+math.Abs(lse)) + reductionTol(n, 1)
						if math.Abs(float64(v)-want) > tol {
							t.Fatalf("LogSoftmaxRow %s [%d] = %v, want %v", where, i, v, want)
						}
					}
					lg.checkGuards(t, where)
					x.checkUnchanged(t, where)

					// LogSumExpRow is LogSoftmaxRow's lse; ExpShiftRow by it
					// is the softmax (SoftmaxRow scales by 1/Σ instead of
					// subtracting log Σ: compare with the reference).
					if got := LogSumExpRow(x.s); math.Float32bits(got) != math.Float32bits(gotLse) {
						t.Fatalf("LogSumExpRow %s = %v, LogSoftmaxRow's lse %v", where, got, gotLse)
					}
					es := newRegion(n, (off+3)%16)
					sum := ExpShiftRow(es.s, x.s, gotLse)
					var sumRef float64
					for i, v := range es.s {
						sumRef += float64(v)
						tol := (rtol + (math.Abs(float64(x.s[i]))+math.Abs(lse))*0x1p-23) * p[i]
						if math.IsInf(lse, -1) {
							tol = 0
						}
						if math.Abs(float64(v)-p[i]) > tol {
							t.Fatalf("ExpShiftRow %s [%d] = %v, want %v", where, i, v, p[i])
						}
					}
					if math.Abs(float64(sum)-sumRef) > reductionTol(n, 1)*sumRef+1e-30 {
						t.Fatalf("ExpShiftRow %s returned %v, its values sum to %v", where, sum, sumRef)
					}
					es.checkGuards(t, where)
					x.checkUnchanged(t, where)

					in := newRegion(n, off).fill(func(i int) float32 { return x.s[i] })
					SoftmaxRow(in.s, in.s)
					for i := range in.s {
						if in.s[i] != dst.s[i] {
							t.Fatalf("SoftmaxRow in place %s [%d] = %v, out of place %v", where, i, in.s[i], dst.s[i])
						}
					}
				}
			}
		}
	})
}

func TestSoftmaxAllMasked(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		for n := 0; n <= maxTail; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Inf(-1))
			}
			dst := make([]float32, n)
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			SoftmaxRow(dst, x)
			for i, v := range dst {
				if v != 0 {
					t.Fatalf("%v SoftmaxRow(all -Inf, n=%d)[%d] = %v, want 0", l, n, i, v)
				}
			}
		}
	})
}

func TestSoftmaxRowBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				where := fmt.Sprintf("%v n=%d off=%d", l, n, off)
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 2)
				}
				y := newRegion(n, off)
				SoftmaxRow(y.s, x)
				y.fill(func(i int) float32 { return y.s[i] })
				dy := newRegion(n, (off+3)%16).fill(func(int) float32 { return randn(rng) })
				var d, dmag, s, smag float64
				for i := range y.s {
					d += float64(y.s[i]) * float64(dy.s[i])
					dmag += math.Abs(float64(y.s[i]) * float64(dy.s[i]))
					s += float64(dy.s[i])
					smag += math.Abs(float64(dy.s[i]))
				}
				dx := newRegion(n, (off+6)%16)
				SoftmaxRowBackward(dx.s, y.s, dy.s)
				for i, v := range dx.s {
					yi, dyi := float64(y.s[i]), float64(dy.s[i])
					want := yi * (dyi - d)
					tol := 3*0x1p-24*yi*(math.Abs(dyi)+math.Abs(d)) + yi*reductionTol(n, dmag)
					if math.Abs(float64(v)-want) > tol {
						t.Fatalf("SoftmaxRowBackward %s [%d] = %v, want %v", where, i, v, want)
					}
				}
				dx.checkGuards(t, where)
				y.checkUnchanged(t, where)
				dy.checkUnchanged(t, where)

				// LogSoftmaxRowBackward with y = log-softmax output.
				ly := newRegion(n, (off+1)%16)
				LogSoftmaxRow(ly.s, x)
				ly.fill(func(i int) float32 { return ly.s[i] })
				LogSoftmaxRowBackward(dx.s, ly.s, dy.s)
				for i, v := range dx.s {
					e := math.Exp(float64(ly.s[i]))
					want := float64(dy.s[i]) - e*s
					tol := 4*0x1p-24*(math.Abs(float64(dy.s[i]))+e*math.Abs(s)) + e*reductionTol(n, smag) + e*math.Abs(s)*expMaxUlp*0x1p-23
					if math.Abs(float64(v)-want) > tol {
						t.Fatalf("LogSoftmaxRowBackward %s [%d] = %v, want %v", where, i, v, want)
					}
				}
				dx.checkGuards(t, where)
				ly.checkUnchanged(t, where)
				dy.checkUnchanged(t, where)
			}
		}
	})
}
