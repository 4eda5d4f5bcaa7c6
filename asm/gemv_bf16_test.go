package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// bf16Of rounds v to bfloat16 bits (ties to even; tests only need some
// value of each magnitude).
func bf16Of(v float32) uint16 {
	b := math.Float32bits(v)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func widenBF16(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }

// gemvBF16Ref is one output of GemvBF16 in the exact order
// GemvBF16Strided documents, every operation rounded as written: the
// products fused with their sums when fused (the assembly's FMAs), else
// rounded first (explicit conversions forbid the compiler's fusion); then
// the bias. fused and whether the bits are checked come from int8Order
// (gemv_int8_test.go), which holds for both kernels: the assembly fuses,
// the generic Go code fuses where the compiler does.
func gemvBF16Ref(x []float32, w []uint16, bias []float32, fused bool) float32 {
	madd := func(s, a float32, h uint16) float32 {
		b := math.Float32frombits(uint32(h) << 16)
		if fused {
			return fma32(a, b, s)
		}
		return float32(s + float32(a*b))
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
	if bias != nil {
		s = float32(s + bias[0])
	}
	return s
}

// TestGemvBF16 runs every kernel variant over all tail lengths of k, one
// row of x and several (filling the four-row kernels and leaving
// remainders), numbers of outputs that fill the single-row kernels'
// four-output loops and leave each remainder (n mod 4 = 1, 2, 3 with and
// without a block of four before it), strided outputs, offsets and bias
// or none. It checks each output's bits against gemvBF16Ref (the
// documented order) and its value against a float64 reference (rigorous
// summation bound), that nothing outside the outputs is written (NaN
// guards, including the gaps between strided rows), that the inputs are
// unchanged, and that each output has the same bits when computed alone
// (n = 1) and with the columns split in two strided calls (which moves
// outputs between the four-output and the one-output loops), so that
// batching and splitting between goroutines cannot change results (and,
// on arm64, where Go fuses the generic code's multiply-adds, that every
// variant gives the generic code's bits).
func TestGemvBF16(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(1, uint64(l)))
		ks := testSizes()
		ks = append(ks, 2048)
		for _, k := range ks {
			for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 37} {
				if n == 37 && k < 512 {
					continue
				}
				for _, m := range []int{1, 4, 6, 9} {
					if m == 9 && (k < 100 || n > 9) {
						continue
					}
					offs := offsetsFor(k)
					if n > 9 {
						offs = []int{5}
					}
					for _, off := range offs {
						for _, withBias := range []bool{true, false} {
							ldy := n
							if m > 1 && off%2 == 1 {
								ldy = n + 3
							}
							checkGemvBF16(t, rng, fmt.Sprintf("%v m=%d n=%d k=%d ldy=%d off=%d bias=%v", l, m, n, k, ldy, off, withBias), l, m, n, k, ldy, off, withBias)
						}
					}
				}
			}
		}
	})
}

func checkGemvBF16(t *testing.T, rng *rand.Rand, what string, l Level, m, n, k, ldy, off int, withBias bool) {
	t.Helper()
	fused, checked := int8Order(l)
	x := newRegion(m*k, off).fill(func(int) float32 { return randn(rng) })
	wbuf := make([]uint16, guardLen+off+n*k+guardLen)
	for i := range wbuf {
		wbuf[i] = 0x7fc1 // a NaN: read past the matrix and it shows
	}
	w := wbuf[guardLen+off : guardLen+off+n*k : guardLen+off+n*k]
	for i := range w {
		w[i] = bf16Of(randn(rng))
	}
	wSnap := append([]uint16(nil), w...)
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
	GemvBF16Strided(y.s, ldy, x.s, w, bias, m, n, k)
	x.checkUnchanged(t, what+": x")
	if br != nil {
		br.checkUnchanged(t, what+": bias")
	}
	for i := range w {
		if w[i] != wSnap[i] {
			t.Fatalf("%s: weight %d changed", what, i)
		}
	}
	y.checkGuards(t, what+": y")
	// The columns split in two strided calls.
	split := make([]float32, len(y.s))
	o0 := n / 3
	var b0, b1 []float32
	if bias != nil {
		b0, b1 = bias[:o0], bias[o0:]
	}
	GemvBF16Strided(split, ldy, x.s, w[:o0*k], b0, m, o0, k)
	GemvBF16Strided(split[o0:], ldy, x.s, w[o0*k:], b1, m, n-o0, k)
	for r := 0; r < m; r++ {
		for o := 0; o < n; o++ {
			want, mag := 0.0, 0.0
			if bias != nil {
				want, mag = float64(bias[o]), math.Abs(float64(bias[o]))
			}
			for i := 0; i < k; i++ {
				p := float64(x.s[r*k+i]) * widenBF16(w[o*k+i])
				want += p
				mag += math.Abs(p)
			}
			got := y.s[r*ldy+o]
			if d := math.Abs(float64(got) - want); !(d <= reductionTol(k+1, mag)) {
				t.Fatalf("%s: y[%d,%d] = %g, want %g (|diff| %g)", what, r, o, got, want, d)
			}
			var bo []float32
			if bias != nil {
				bo = bias[o : o+1]
			}
			if ref := gemvBF16Ref(x.s[r*k:(r+1)*k], w[o*k:(o+1)*k], bo, fused); checked && math.Float32bits(ref) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g (%#08x), the documented order gives %g (%#08x)", what, r, o, got, math.Float32bits(got), ref, math.Float32bits(ref))
			}
			if s := split[r*ldy+o]; math.Float32bits(s) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g in a block, %g with the columns split at %d", what, r, o, got, s, o0)
			}
			// On arm64 the Go compiler fuses the generic code's
			// multiply-adds, so every variant has its bits.
			if runtime.GOARCH == "arm64" {
				var g [1]float32
				var b1 []float32
				if bias != nil {
					b1 = bias[o : o+1]
				}
				gemvRowBF16Generic(g[:], x.s[r*k:(r+1)*k], w[o*k:(o+1)*k], b1)
				if math.Float32bits(g[0]) != math.Float32bits(got) {
					t.Fatalf("%s: y[%d,%d] = %g, generic %g", what, r, o, got, g[0])
				}
			}
			// The same output alone.
			var one [1]float32
			var b1 []float32
			if bias != nil {
				b1 = bias[o : o+1]
			}
			GemvBF16Strided(one[:], 1, x.s[r*k:(r+1)*k], w[o*k:(o+1)*k], b1, 1, 1, k)
			if math.Float32bits(one[0]) != math.Float32bits(got) {
				t.Fatalf("%s: y[%d,%d] = %g in a block, %g alone", what, r, o, got, one[0])
			}
		}
	}
	// Gaps between strided rows stay untouched.
	for r := 0; r+1 < m; r++ {
		for j := n; j < ldy; j++ {
			if v := y.s[r*ldy+j]; math.Float32bits(v) != guardBits {
				t.Fatalf("%s: gap element y[%d,%d] written (%g)", what, r, j, v)
			}
		}
	}
}

// TestGemvBF16Special checks that NaN and infinite weights or inputs reach
// exactly the outputs they belong to, in every variant and in both the
// four-row and the single-row paths, and in the main loops and the tails.
func TestGemvBF16Special(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		for _, k := range []int{7, 16, 29, 512} {
			const n = 6 // a four-row block and two single rows
			x := make([]float32, k)
			w := make([]uint16, n*k)
			for i := range x {
				x[i] = 0.5
			}
			for i := range w {
				w[i] = bf16Of(1)
			}
			for _, pos := range []int{0, k / 2, k - 1} {
				for _, row := range []int{1, 5} {
					for _, bad := range []uint16{0x7fc0, 0x7f80} { // NaN, +Inf
						ww := append([]uint16(nil), w...)
						ww[row*k+pos] = bad
						y := make([]float32, n)
						GemvBF16(y, x, ww, nil, 1, n, k)
						for o, v := range y {
							switch {
							case o != row && v != float32(k)/2:
								t.Fatalf("%v k=%d: bad weight in row %d at %d: y[%d] = %g, want %g", l, k, row, pos, o, v, float32(k)/2)
							case o == row && bad == 0x7fc0 && !math.IsNaN(float64(v)):
								t.Fatalf("%v k=%d: NaN weight at %d: y[%d] = %g, want NaN", l, k, pos, o, v)
							case o == row && bad == 0x7f80 && !math.IsInf(float64(v), 1):
								t.Fatalf("%v k=%d: +Inf weight at %d: y[%d] = %g, want +Inf", l, k, pos, o, v)
							}
						}
					}
				}
				xx := append([]float32(nil), x...)
				xx[pos] = float32(math.NaN())
				y := make([]float32, n)
				GemvBF16(y, xx, w, nil, 1, n, k)
				for o, v := range y {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("%v k=%d: NaN input at %d: y[%d] = %g, want NaN", l, k, pos, o, v)
					}
				}
			}
		}
	})
}

// TestGemvBF16Empty: no rows, no outputs or k = 0 (y = bias).
func TestGemvBF16Empty(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		GemvBF16(nil, nil, nil, nil, 0, 0, 0)
		GemvBF16(nil, make([]float32, 4), make([]uint16, 0), nil, 1, 0, 4)
		y := []float32{7, 7, 7}
		GemvBF16(y, nil, nil, []float32{1, 2, 3}, 1, 3, 0)
		if y[0] != 1 || y[1] != 2 || y[2] != 3 {
			t.Fatalf("k=0 with bias: %v", y)
		}
		GemvBF16(y, nil, nil, nil, 1, 3, 0)
		if y[0] != 0 || y[1] != 0 || y[2] != 0 {
			t.Fatalf("k=0 without bias: %v", y)
		}
		if d := DotBF16([]float32{1, 2, 3}, []uint16{bf16Of(1), bf16Of(-1), bf16Of(0.5)}); d != 0.5 {
			t.Fatalf("DotBF16 = %g, want 0.5", d)
		}
	})
}

func TestGemvBF16Misuse(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"short weights", func() { GemvBF16(make([]float32, 2), make([]float32, 4), make([]uint16, 7), nil, 1, 2, 4) }},
		{"short y", func() { GemvBF16Strided(make([]float32, 5), 4, make([]float32, 8), make([]uint16, 8), nil, 2, 2, 4) }},
		{"ldy < n", func() { GemvBF16Strided(make([]float32, 8), 1, make([]float32, 8), make([]uint16, 8), nil, 2, 2, 4) }},
		{"short bias", func() {
			GemvBF16(make([]float32, 2), make([]float32, 4), make([]uint16, 8), make([]float32, 1), 1, 2, 4)
		}},
		{"DotBF16 lengths", func() { DotBF16(make([]float32, 3), make([]uint16, 4)) }},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f()
		}()
	}
}

// BenchmarkGemvBF16 streams decoder-sized bfloat16 matrices through one
// goroutine (GB/s of weights read; the matrices are larger than the last
// level cache, so this is the memory bandwidth a decoding step gets).
func BenchmarkGemvBF16(b *testing.B) {
	for _, s := range [][3]int{{1, 2048, 512}, {1, 512, 2048}, {1, 49408, 512}, {6, 2048, 512}} {
		m, n, k := s[0], s[1], s[2]
		for _, l := range Available() {
			b.Run(fmt.Sprintf("impl=%v/size=%dx%dx%d", l, m, n, k), func(b *testing.B) {
				defer SetLevel(SetLevel(l))
				// Enough copies of W to defeat the 32 MiB L3.
				copies := max(1, (64<<20)/(2*n*k))
				w := make([]uint16, copies*n*k)
				for i := range w {
					w[i] = bf16Of(float32(i%7) - 3)
				}
				x := make([]float32, m*k)
				y := make([]float32, m*n)
				for i := range x {
					x[i] = float32(i%5) * 0.25
				}
				b.SetBytes(int64(2 * n * k))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c := i % copies
					GemvBF16(y, x, w[c*n*k:(c+1)*n*k], nil, m, n, k)
				}
			})
		}
	}
}
