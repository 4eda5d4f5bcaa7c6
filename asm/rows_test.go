package asm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAddRows checks AddRows at every level against a loop of Axpy(1, row,
// dst) at the generic level, bit for bit (tolerance 0: the same additions
// in the same order; a NaN need only be a NaN), for every column count up
// to 300 (each block size and tail of the kernels) and a few row counts
// and strides (overlapping rows included), with nothing written past dst's
// columns.
func TestAddRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(36, 1))
	val := func() float32 {
		switch rng.IntN(50) {
		case 0:
			return float32(math.NaN())
		case 1:
			return float32(math.Inf(1 - 2*rng.IntN(2)))
		case 2:
			return float32(math.Copysign(0, -1))
		}
		// Magnitudes far apart, so that the order of the sums shows.
		return float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-20)))
	}
	type tc struct{ cols, rows, ld int }
	var cases []tc
	for cols := 0; cols <= 300; cols++ {
		cases = append(cases, tc{cols, 1 + cols%7, cols + cols%3})
	}
	cases = append(cases, tc{64, 832, 64}, tc{40, 5, 0}, tc{300, 4, 17}, tc{256, 833, 260}, tc{192, 37, 1000}, tc{577, 9, 577}, tc{5, 0, 5}, tc{3, 2, 3})
	forLevels(t, func(t *testing.T, l Level) {
		for _, c := range cases {
			src := make([]float32, max(0, (c.rows-1)*c.ld+c.cols))
			for i := range src {
				src[i] = val()
			}
			dst := make([]float32, c.cols+1)
			for i := range dst {
				dst[i] = val()
			}
			dst[c.cols] = 42 // sentinel past the columns
			want := append([]float32(nil), dst[:c.cols]...)
			for r := range c.rows {
				axpyGeneric(1, src[r*c.ld:r*c.ld+c.cols], want)
			}
			AddRows(dst[:c.cols], src, c.rows, c.ld)
			for j := range want {
				g, w := dst[j], want[j]
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%d rows of %d (stride %d): column %d = %v (%#08x), want %v (%#08x)",
						c.rows, c.cols, c.ld, j, g, math.Float32bits(g), w, math.Float32bits(w))
				}
			}
			if dst[c.cols] != 42 {
				t.Fatalf("%d rows of %d: wrote past the columns", c.rows, c.cols)
			}
		}
	})
}

func TestAddRowsPanics(t *testing.T) {
	for _, c := range []struct {
		n, src, rows, ld int
	}{{8, 15, 2, 8}, {8, 16, 2, -1}, {8, 8, -1, 8}} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.Contains(s, "asm.AddRows") {
					t.Errorf("%+v: recovered %v, want a panic naming asm.AddRows", c, r)
				}
			}()
			AddRows(make([]float32, c.n), make([]float32, c.src), c.rows, c.ld)
		}()
	}
	AddRows(make([]float32, 8), make([]float32, 8), 3, 0) // the same row three times
}
