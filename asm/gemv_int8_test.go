package asm

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// fma32 returns a·b + c rounded once to float32, whatever the compiler does
// with multiply-adds: the product is exact in float64, the sum is split
// into its float64 rounding and the exact error (TwoSum), the float64 sum
// is rounded to odd (its last bit set when inexact) and then to float32,
// which rounds as the exact sum would (53 ≥ 24+2 bits).
func fma32(a, b, c float32) float32 {
	p, q := float64(a)*float64(b), float64(c)
	s := p + q
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (q - bb)
	if e != 0 && math.Float64bits(s)&1 == 0 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

//go:noinline
func mulAdd32(a, b, c float32) float32 { return a*b + c }

// goFusesFloat32 reports whether the Go compiler fuses a*b + c in this
// build (arm64, and amd64 with GOAMD64=v3 or later where no operand is
// folded into a load).
var goFusesFloat32 = mulAdd32(1+0x1p-12, 1+0x1p-12, -(1+0x1p-11)) != 0

// gemvInt8Ref is one output of GemvInt8 in the exact order
// GemvInt8Strided documents, every operation rounded as written: the
// products fused with their sums when fused (the assembly's FMAs), else
// rounded first (explicit conversions forbid the compiler's fusion); the
// scale product rounded before the bias.
func gemvInt8Ref(x []float32, w []int8, scale float32, bias []float32, fused bool) float32 {
	madd := func(s, a float32, b int8) float32 {
		if fused {
			return fma32(a, float32(b), s)
		}
		return float32(s + float32(a*float32(b)))
	}
	var a, b [8]float32
	i := 0
	for ; i+16 <= len(x); i += 16 {
		for j := range 8 {
			a[j] = madd(a[j], x[i+j], w[i+j])
			b[j] = madd(b[j], x[i+8+j], w[i+8+j])
		}
	}
	if i+8 <= len(x) {
		for j := range 8 {
			a[j] = madd(a[j], x[i+j], w[i+j])
		}
		i += 8
	}
	for j := range 8 {
		a[j] = float32(a[j] + b[j])
	}
	s := float32(float32(float32(a[0]+a[1])+float32(a[2]+a[3])) + float32(float32(a[4]+a[5])+float32(a[6]+a[7])))
	for ; i < len(x); i++ {
		s = madd(s, x[i], w[i])
	}
	s = float32(s * scale)
	if bias != nil {
		s = float32(s + bias[0])
	}
	return s
}

// int8Order reports how level l's kernels round their products, for
// gemvInt8Ref: the assembly fuses them (FMA); the generic Go code fuses
// them on arm64, where the compiler fuses every a*b + c of float32s, and
// rounds them where the compiler never fuses. Elsewhere (amd64 with
// GOAMD64=v3, where the compiler fuses only where no operand is a load;
// other architectures that fuse) the generic code's bits are not checked.
func int8Order(l Level) (fused, checked bool) {
	switch {
	case l != Generic || runtime.GOARCH == "arm64":
		return true, true
	case !goFusesFloat32:
		return false, true
	}
	return false, false
}

// randInt8 draws a weight: the extremes -128 and 127 often, else uniform.
func randInt8(rng *rand.Rand) int8 {
	switch rng.IntN(8) {
	case 0:
		return -128
	case 1:
		return 127
	}
	return int8(rng.IntN(256) - 128)
}

// int8TolDepth is the number of roundings a product goes through in
// GemvInt8's order for length k (its FMA, the later FMAs of its lane, the
// lane-by-lane sum of the groups, three pairwise sums, up to seven tail
// FMAs, the scale and the bias), plus one for the generic code's rounded
// products where Go does not fuse.
func int8TolDepth(k int) int { return k/16 + 1 + 1 + 3 + 7 + 2 + 1 }

// int8Tol is the rigorous error bound for an output of GemvInt8 whose
// terms (products times scale, and bias) have absolute sum mag: each term
// is rounded at most int8TolDepth(k) times (relative error 2⁻²⁴ each;
// 1.01 covers the higher-order terms and the float64 reference's own
// rounding).
func int8Tol(k int, mag float64) float64 {
	return float64(int8TolDepth(k)) * 0x1p-24 * mag * 1.01
}

// TestGemvInt8 runs every kernel variant over all tail lengths of k, one
// row of x and several (filling the four-row kernels and leaving
// remainders), strided outputs, offsets, bias or none, extreme weights,
// scales of both signs and chunks of gemvChunkBytes. For each output it
// checks the bits against gemvInt8Ref (the documented order), the value
// against a float64 reference (int8Tol), and that the same bits come out
// computed alone and with the columns split in two strided calls, so that
// batching and splitting between goroutines cannot change results; and
// that nothing outside the outputs is written (NaN guards, including the
// gaps between strided rows) and the inputs are unchanged.
func TestGemvInt8(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(8, uint64(l)))
		var worst, worstU float64
		var ks []int
		for k := 0; k <= 40; k++ {
			ks = append(ks, k)
		}
		ks = append(ks, 47, 48, 63, 64, 65, 79, 100, 127, 128, 129, 512, 768+3)
		for _, k := range ks {
			for _, n := range []int{1, 3, 4, 5, 13} {
				if k > 128 && n < 5 {
					continue
				}
				for _, m := range []int{1, 2, 3, 4, 5, 7, 9} {
					if k < 100 && n == 13 && m != 5 {
						continue
					}
					for _, withBias := range []bool{true, false} {
						ldy := n
						if m > 1 && (k+n+m)%2 == 1 {
							ldy = n + 3
						}
						off := (k*7 + n*3 + m) % 16
						what := fmt.Sprintf("%v m=%d n=%d k=%d ldy=%d off=%d bias=%v", l, m, n, k, ldy, off, withBias)
						f, u := checkGemvInt8(t, rng, what, l, m, n, k, ldy, off, withBias)
						worst, worstU = max(worst, f), max(worstU, u)
					}
				}
			}
		}
		// Several chunks of gemvChunkBytes (84 rows of 771 weights; 128
		// of 512; four rows when a row alone is larger than a chunk).
		for _, c := range [][3]int{{1, 173, 771}, {5, 173, 771}, {9, 261, 512}, {6, 9, 16400}, {1, 7, 70000}} {
			m, n, k := c[0], c[1], c[2]
			for _, withBias := range []bool{true, false} {
				what := fmt.Sprintf("%v chunks m=%d n=%d k=%d bias=%v", l, m, n, k, withBias)
				f, u := checkGemvInt8(t, rng, what, l, m, n, k, n+1, 5, withBias)
				worst, worstU = max(worst, f), max(worstU, u)
			}
		}
		t.Logf("%v: largest error %.3g of the bound int8Tol, %.3g·2⁻²⁴ times the terms' absolute sum", l, worst, worstU)
	})
}

// checkGemvInt8 runs GemvInt8Strided on random data and checks it (see
// TestGemvInt8); it returns the largest error seen as a fraction of
// int8Tol and in units of 2⁻²⁴ times the terms' absolute sum.
func checkGemvInt8(t *testing.T, rng *rand.Rand, what string, l Level, m, n, k, ldy, off int, withBias bool) (worst, worstU float64) {
	t.Helper()
	fused, checked := int8Order(l)
	x := newRegion(m*k, off).fill(func(int) float32 { return randn(rng) })
	wbuf := make([]int8, guardLen+off+n*k+guardLen)
	for i := range wbuf {
		wbuf[i] = 0x55 // large: read past the matrix and it shows
	}
	w := wbuf[guardLen+off : guardLen+off+n*k : guardLen+off+n*k]
	for i := range w {
		w[i] = randInt8(rng)
	}
	wSnap := append([]int8(nil), w...)
	sr := newRegion(n, (off+11)%16).fill(func(int) float32 {
		return float32((rng.Float64()*2 - 1) * math.Pow(2, float64(rng.IntN(9)-12)))
	})
	var bias []float32
	var br *region
	if withBias {
		br = newRegion(n, (off+7)%16).fill(func(int) float32 { return randn(rng) })
		bias = br.s
	}
	ylen := 0
	if m > 0 {
		ylen = (m-1)*ldy + n
	}
	y := newRegion(ylen, (off+3)%16)
	for i := range y.s {
		y.s[i] = math.Float32frombits(guardBits)
	}
	GemvInt8Strided(y.s, ldy, x.s, w, sr.s, bias, m, n, k)
	x.checkUnchanged(t, what+": x")
	sr.checkUnchanged(t, what+": scale")
	if br != nil {
		br.checkUnchanged(t, what+": bias")
	}
	for i := range w {
		if w[i] != wSnap[i] {
			t.Fatalf("%s: weight %d changed", what, i)
		}
	}
	y.checkGuards(t, what+": y")
	// Gaps between strided rows stay untouched.
	for r := 0; r+1 < m; r++ {
		for j := n; j < ldy; j++ {
			if v := y.s[r*ldy+j]; math.Float32bits(v) != guardBits {
				t.Fatalf("%s: gap element y[%d,%d] written (%g)", what, r, j, v)
			}
		}
	}
	// The columns split in two strided calls.
	split := make([]float32, len(y.s))
	o0 := n / 3
	var b0, b1 []float32
	if bias != nil {
		b0, b1 = bias[:o0], bias[o0:]
	}
	GemvInt8Strided(split, ldy, x.s, w[:o0*k], sr.s[:o0], b0, m, o0, k)
	GemvInt8Strided(split[o0:], ldy, x.s, w[o0*k:], sr.s[o0:], b1, m, n-o0, k)
	for r := 0; r < m; r++ {
		xr := x.s[r*k : (r+1)*k]
		for o := 0; o < n; o++ {
			wo := w[o*k : (o+1)*k]
			var bo []float32
			want, mag := 0.0, 0.0
			for i := 0; i < k; i++ {
				p := float64(xr[i]) * float64(wo[i])
				want += p
				mag += math.Abs(p)
			}
			sc := float64(sr.s[o])
			want, mag = want*sc, mag*math.Abs(sc)
			if bias != nil {
				bo = bias[o : o+1]
				want += float64(bias[o])
				mag += math.Abs(float64(bias[o]))
			}
			got := y.s[r*ldy+o]
			d, tol := math.Abs(float64(got)-want), int8Tol(k, mag)
			if !(d <= tol) {
				t.Fatalf("%s: y[%d,%d] = %g, want %g (|diff| %g > %g)", what, r, o, got, want, d, tol)
			}
			if tol > 0 {
				worst, worstU = max(worst, d/tol), max(worstU, d/(0x1p-24*mag))
			}
			if ref := gemvInt8Ref(xr, wo, sr.s[o], bo, fused); checked && math.Float32bits(ref) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g (%#08x), the documented order gives %g (%#08x)", what, r, o, got, math.Float32bits(got), ref, math.Float32bits(ref))
			}
			// The same output alone, and split.
			var one [1]float32
			GemvInt8Strided(one[:], 1, xr, wo, sr.s[o:o+1], bo, 1, 1, k)
			if math.Float32bits(one[0]) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g in a block, %g alone", what, r, o, got, one[0])
			}
			if s := split[r*ldy+o]; math.Float32bits(s) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g in a block, %g with the columns split at %d", what, r, o, got, s, o0)
			}
		}
	}
	return worst, worstU
}

// TestGemvInt8Extremes: weights all -128 or all 127 with large inputs and
// scales, so that the sums are far from the weights' range, bit for bit
// against the documented order in both the four-row and single-row paths.
func TestGemvInt8Extremes(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		for _, k := range []int{7, 24, 33, 1000} {
			const m, n = 5, 3
			x := make([]float32, m*k)
			for i := range x {
				x[i] = float32(int32(i*7919%2001)-1000) * 1e3
			}
			for _, v := range []int8{-128, 127} {
				w := make([]int8, n*k)
				for i := range w {
					w[i] = v
				}
				w[k+1] = -v - 1 // the other extreme in one row
				scale := []float32{1, -3e-5, 0.5}
				bias := []float32{-1, 2, 1e9}
				y := make([]float32, m*n)
				GemvInt8(y, x, w, scale, bias, m, n, k)
				fused, checked := int8Order(l)
				for r := range m {
					for o := range n {
						ref := gemvInt8Ref(x[r*k:(r+1)*k], w[o*k:(o+1)*k], scale[o], bias[o:o+1], fused)
						if got := y[r*n+o]; checked && math.Float32bits(got) != math.Float32bits(ref) {
							t.Fatalf("%v k=%d w=%d: y[%d,%d] = %g, the documented order gives %g", l, k, v, r, o, got, ref)
						}
					}
				}
			}
		}
	})
}

// TestGemvInt8Special checks that NaN and infinite inputs or scales reach
// exactly the outputs they belong to, in every variant and in both the
// four-row and the single-row paths, and in the main loops and the tails.
func TestGemvInt8Special(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		for _, k := range []int{7, 16, 29, 512} {
			const n = 6
			x := make([]float32, 5*k) // a four-row block and a single row
			w := make([]int8, n*k)
			scale := make([]float32, n)
			for i := range x {
				x[i] = 0.5
			}
			for i := range w {
				w[i] = 2
			}
			for i := range scale {
				scale[i] = 0.25
			}
			want := float32(k) / 4
			for _, row := range []int{1, 5} {
				for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
					sc := append([]float32(nil), scale...)
					sc[row] = bad
					y := make([]float32, 5*n)
					GemvInt8(y, x, w, sc, nil, 5, n, k)
					for i, v := range y {
						o := i % n
						switch {
						case o != row && v != want:
							t.Fatalf("%v k=%d: bad scale %g of row %d: y[%d] = %g, want %g", l, k, bad, row, i, v, want)
						case o == row && math.IsNaN(float64(bad)) && !math.IsNaN(float64(v)):
							t.Fatalf("%v k=%d: NaN scale: y[%d] = %g, want NaN", l, k, i, v)
						case o == row && math.IsInf(float64(bad), -1) && !math.IsInf(float64(v), -1):
							t.Fatalf("%v k=%d: -Inf scale: y[%d] = %g, want -Inf", l, k, i, v)
						}
					}
				}
			}
			for _, pos := range []int{0, k / 2, k - 1} {
				for _, r := range []int{2, 4} {
					for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
						xx := append([]float32(nil), x...)
						xx[r*k+pos] = bad
						y := make([]float32, 5*n)
						GemvInt8(y, xx, w, scale, nil, 5, n, k)
						for i, v := range y {
							switch {
							case i/n != r && v != want:
								t.Fatalf("%v k=%d: bad input in row %d at %d: y[%d] = %g, want %g", l, k, r, pos, i, v, want)
							case i/n == r && math.IsNaN(float64(bad)) && !math.IsNaN(float64(v)):
								t.Fatalf("%v k=%d: NaN input at %d: y[%d] = %g, want NaN", l, k, pos, i, v)
							case i/n == r && math.IsInf(float64(bad), 1) && !math.IsInf(float64(v), 1):
								t.Fatalf("%v k=%d: +Inf input at %d: y[%d] = %g, want +Inf", l, k, pos, i, v)
							}
						}
					}
				}
			}
		}
	})
}

// TestGemvInt8Empty: no rows, no outputs or k = 0 (y = 0·scale + bias: -0
// without bias when the scale is negative).
func TestGemvInt8Empty(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		GemvInt8(nil, nil, nil, nil, nil, 0, 0, 0)
		GemvInt8(nil, make([]float32, 4), make([]int8, 0), nil, nil, 1, 0, 4)
		GemvInt8(nil, nil, make([]int8, 12), make([]float32, 3), nil, 0, 3, 4)
		y := []float32{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
		scale := []float32{2, -1, 0.5}
		GemvInt8(y, nil, nil, scale, []float32{1, 2, 3}, 5, 3, 0)
		for i, v := range y {
			if v != float32(i%3+1) {
				t.Fatalf("k=0 with bias: %v", y)
			}
		}
		GemvInt8(y, nil, nil, scale, nil, 5, 3, 0)
		for i, v := range y {
			if v != 0 || math.Signbit(float64(v)) != (i%3 == 1) {
				t.Fatalf("k=0 without bias: %v (want 0, -0, 0 per row)", y)
			}
		}
		y = y[:1]
		GemvInt8(y, []float32{1, 2, 3}, []int8{1, -1, -128}, []float32{0.5}, nil, 1, 1, 3)
		if y[0] != -192.5 { // (1 - 2 - 384)·0.5
			t.Fatalf("GemvInt8 = %g, want -192.5", y[0])
		}
	})
}

func TestGemvInt8Misuse(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"short weights", func() {
			GemvInt8(make([]float32, 2), make([]float32, 4), make([]int8, 7), make([]float32, 2), nil, 1, 2, 4)
		}},
		{"short x", func() {
			GemvInt8(make([]float32, 4), make([]float32, 7), make([]int8, 8), make([]float32, 2), nil, 2, 2, 4)
		}},
		{"short y", func() {
			GemvInt8Strided(make([]float32, 5), 4, make([]float32, 8), make([]int8, 8), make([]float32, 2), nil, 2, 2, 4)
		}},
		{"ldy < n", func() {
			GemvInt8Strided(make([]float32, 8), 1, make([]float32, 8), make([]int8, 8), make([]float32, 2), nil, 2, 2, 4)
		}},
		{"short bias", func() {
			GemvInt8(make([]float32, 2), make([]float32, 4), make([]int8, 8), make([]float32, 2), make([]float32, 1), 1, 2, 4)
		}},
		{"short scale", func() {
			GemvInt8(make([]float32, 2), make([]float32, 4), make([]int8, 8), make([]float32, 1), nil, 1, 2, 4)
		}},
		{"nil scale", func() { GemvInt8(make([]float32, 2), make([]float32, 4), make([]int8, 8), nil, nil, 1, 2, 4) }},
		{"negative m", func() { GemvInt8(nil, nil, nil, nil, nil, -1, 0, 0) }},
		{"negative k", func() { GemvInt8(nil, nil, nil, nil, nil, 0, 0, -1) }},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", c.name)
					return
				}
				msg := fmt.Sprint(r)
				for _, s := range []string{"asm.GemvInt8:", "m=", "n=", "k=", "ldy=", "len(y)=", "len(x)=", "len(w)=", "len(scale)=", "len(bias)="} {
					if !strings.Contains(msg, s) {
						t.Errorf("%s: panic %q does not name %s", c.name, msg, s)
					}
				}
			}()
			c.f()
		}()
	}
}

// TestFMA32 checks the test's float32 fused multiply-add against exact
// arithmetic (math/big), on a double-rounding case and random operands of
// GemvInt8's kind, and, on builds whose compiler fuses, against the
// compiler's own.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		p := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		p.Mul(p, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		p.Add(p, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := p.Float32()
		return f
	}
	// a·b = 2⁻²⁴ - 2⁻⁷⁰: the float64 sum 1 + 3·2⁻²⁴ is a float32 tie
	// that the exact sum does not reach (rounding it would give 1 + 2⁻²²).
	a, b, c := float32(0x1p-24*(1+0x1p-23)), float32(1-0x1p-23), float32(1+0x1p-23)
	if got := fma32(a, b, c); got != 1+0x1p-23 || exact(a, b, c) != got {
		t.Fatalf("fma32 double-rounded: %g", got)
	}
	if got := fma32(float32(math.Inf(1)), 2, 1); !math.IsInf(float64(got), 1) {
		t.Fatalf("fma32(Inf) = %g", got)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 100000 {
		a := randn(rng)
		b := float32(randInt8(rng))
		if i%2 == 1 {
			b = randn(rng)
		}
		c := randn(rng) * float32(math.Pow(2, float64(rng.IntN(60)-30)))
		got := fma32(a, b, c)
		if want := exact(a, b, c); got != want {
			t.Fatalf("fma32(%g, %g, %g) = %g, exactly %g", a, b, c, got, want)
		}
		if goFusesFloat32 && got != mulAdd32(a, b, c) {
			t.Fatalf("fma32(%g, %g, %g) = %g, the compiler's fused %g", a, b, c, got, mulAdd32(a, b, c))
		}
	}
}

// BenchmarkGemvInt8 is BenchmarkGemvBF16 with int8 weights (the same
// shapes; GB/s of weights read, one byte each, larger than the last level
// cache).
func BenchmarkGemvInt8(b *testing.B) {
	for _, s := range [][3]int{{1, 2048, 512}, {1, 512, 2048}, {1, 49408, 512}, {6, 2048, 512}} {
		m, n, k := s[0], s[1], s[2]
		for _, l := range Available() {
			b.Run(fmt.Sprintf("impl=%v/size=%dx%dx%d", l, m, n, k), func(b *testing.B) {
				defer SetLevel(SetLevel(l))
				// Enough copies of W to defeat the 32 MiB L3.
				copies := max(1, (64<<20)/(n*k))
				w := make([]int8, copies*n*k)
				for i := range w {
					w[i] = int8(i%255 - 127)
				}
				scale := make([]float32, n)
				for i := range scale {
					scale[i] = 1.0 / 127
				}
				x := make([]float32, m*k)
				y := make([]float32, m*n)
				for i := range x {
					x[i] = float32(i%5) * 0.25
				}
				b.SetBytes(int64(n * k))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c := i % copies
					GemvInt8(y, x, w[c*n*k:(c+1)*n*k], scale, nil, m, n, k)
				}
			})
		}
	}
}
