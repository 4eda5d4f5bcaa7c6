package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// testUnary runs an element-wise kernel on every tail size and offset with
// guarded output, checks its inputs are unchanged, and checks each element
// with check (which returns a non-empty message on failure). The in-place
// form (dst aliasing x) is checked to give the same result.
func testUnary(t *testing.T, name string, kern func(dst, x []float32), gen func(rng *rand.Rand) float32,
	check func(x, got float32) string) {
	rng := rand.New(rand.NewPCG(11, uint64(len(name))))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				where := fmt.Sprintf("%s %v n=%d off=%d", name, l, n, off)
				x := newRegion(n, off).fill(func(int) float32 { return gen(rng) })
				dst := newRegion(n, (off+7)%16)
				kern(dst.s, x.s)
				for i := range dst.s {
					if msg := check(x.s[i], dst.s[i]); msg != "" {
						t.Fatalf("%s [%d]: x=%v (%#x): %s", where, i, x.s[i], math.Float32bits(x.s[i]), msg)
					}
				}
				dst.checkGuards(t, where)
				x.checkUnchanged(t, where)
				in := newRegion(n, off).fill(func(i int) float32 { return x.s[i] })
				kern(in.s, in.s)
				for i := range in.s {
					if math.Float32bits(in.s[i]) != math.Float32bits(dst.s[i]) {
						t.Fatalf("%s in place [%d] = %v, out of place %v", where, i, in.s[i], dst.s[i])
					}
				}
				in.checkGuards(t, where+" in place")
			}
		}
	})
}

// testBinaryGrad is testUnary for backward kernels kern(dx, x, dy).
func testBinaryGrad(t *testing.T, name string, kern func(dx, x, dy []float32), gen func(rng *rand.Rand) float32,
	check func(x, dy, got float32) string) {
	rng := rand.New(rand.NewPCG(12, uint64(len(name))))
	forLevels(t, func(t *testing.T, l Level) {
		for _, n := range testSizes() {
			for _, off := range offsetsFor(n) {
				where := fmt.Sprintf("%s %v n=%d off=%d", name, l, n, off)
				x := newRegion(n, off).fill(func(int) float32 { return gen(rng) })
				dy := newRegion(n, (off+3)%16).fill(func(int) float32 { return randn(rng) })
				dx := newRegion(n, (off+7)%16)
				kern(dx.s, x.s, dy.s)
				for i := range dx.s {
					if msg := check(x.s[i], dy.s[i], dx.s[i]); msg != "" {
						t.Fatalf("%s [%d]: x=%v dy=%v: %s", where, i, x.s[i], dy.s[i], msg)
					}
				}
				dx.checkGuards(t, where)
				x.checkUnchanged(t, where)
				dy.checkUnchanged(t, where)
			}
		}
	})
}

func ulpCheck(want float64, got float32, maxUlp float64) string {
	if d := ulpDiff(got, want); !(d <= maxUlp) {
		return fmt.Sprintf("got %v, want %v (%.2f ulp > %g)", got, want, d, maxUlp)
	}
	return ""
}

const expMaxUlp = 2

func TestExpTails(t *testing.T) {
	testUnary(t, "Exp", Exp, func(rng *rand.Rand) float32 {
		return float32(rng.Float64()*200 - 110)
	}, func(x, got float32) string {
		return ulpCheck(math.Exp(float64(x)), got, expMaxUlp)
	})
}

func TestSigmoid(t *testing.T) {
	testUnary(t, "Sigmoid", Sigmoid, func(rng *rand.Rand) float32 {
		return float32(rng.NormFloat64() * 20)
	}, func(x, got float32) string {
		want := 1 / (1 + math.Exp(-float64(x)))
		if want < 0x1p-126 { // flushed or subnormal: absolute error only
			if math.Abs(float64(got)-want) > 0x1p-126 {
				return fmt.Sprintf("got %v, want %v", got, want)
			}
			return ""
		}
		return ulpCheck(want, got, 3)
	})
}

func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct{ x, want float32 }{
		{float32(math.Inf(-1)), 0},
		{inf, inf},
		{0, 1},
		{-200, 0},
		{-104, 0},
		{89, inf},
		{1000, inf},
		{-float32(math.MaxFloat32), 0},
	}
	forLevels(t, func(t *testing.T, l Level) {
		for n := 1; n <= 33; n++ { // every case in every lane and tail position
			for _, c := range cases {
				x := make([]float32, n)
				for i := range x {
					x[i] = 0.5
				}
				x[n-1] = c.x
				x[n/2] = c.x
				dst := make([]float32, n)
				Exp(dst, x)
				if math.Float32bits(dst[n-1]) != math.Float32bits(c.want) || math.Float32bits(dst[n/2]) != math.Float32bits(c.want) {
					t.Fatalf("%v Exp(%v) n=%d = %v / %v, want exactly %v", l, c.x, n, dst[n/2], dst[n-1], c.want)
				}
			}
			x := make([]float32, n)
			x[n-1] = float32(math.NaN())
			dst := make([]float32, n)
			Exp(dst, x)
			if dst[n-1] == dst[n-1] {
				t.Fatalf("%v Exp(NaN) = %v", l, dst[n-1])
			}
			Sigmoid(dst, x)
			if dst[n-1] == dst[n-1] {
				t.Fatalf("%v Sigmoid(NaN) = %v", l, dst[n-1])
			}
		}
	})
}

// TestExpAccuracy checks Exp against float64 math.Exp on a dense sample of
// every float32 in [-87.4, 0] (every float32 with GOCOCA_EXHAUSTIVE=1, a
// stride of 61 otherwise, 1021 under -short) and on random values over the
// rest of the range.
func TestExpAccuracy(t *testing.T) {
	stride := uint32(61)
	if testing.Short() {
		stride = 1021
	}
	if os.Getenv("GOCOCA_EXHAUSTIVE") == "1" {
		stride = 1
	}
	lo := math.Float32bits(-87.4) // negative floats: bits grow as values fall
	forLevels(t, func(t *testing.T, l Level) {
		const batch = 1 << 14
		x := make([]float32, 0, batch)
		dst := make([]float32, batch)
		worst, worstX := 0.0, float32(0)
		count := 0
		flush := func() {
			d := dst[:len(x)]
			Exp(d, x)
			for i, v := range x {
				if e := ulpDiff(d[i], math.Exp(float64(v))); !(e <= worst) {
					worst, worstX = e, v
				}
			}
			count += len(x)
			x = x[:0]
		}
		for b := uint64(0x80000000); b <= uint64(lo); b += uint64(stride) {
			x = append(x, math.Float32frombits(uint32(b)))
			if len(x) == batch {
				flush()
			}
		}
		x = append(x, 0, -87.4)
		rng := rand.New(rand.NewPCG(5, 6))
		for range 1 << 16 {
			x = append(x, float32(rng.Float64()*(89+106)-106))
			if len(x) == batch {
				flush()
			}
		}
		flush()
		t.Logf("%v: %d values, worst %.3f ulp at x=%v", l, count, worst, worstX)
		if worst > expMaxUlp {
			t.Errorf("%v: Exp error %.3f ulp at x=%v (%#x) exceeds %d ulp", l, worst, worstX, math.Float32bits(worstX), expMaxUlp)
		}
	})
}
