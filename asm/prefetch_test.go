package asm

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPrefetchRows runs the prefetch hint over rows that start anywhere in
// a cache line, rows of one float and rows of several lines, and rows
// reaching the last element of their slice, and checks that it returns and
// leaves the memory as it was (it may only read). What it is for, speed
// where the rows are not in the cache, is measured with `coca train` (the
// attention backward reads activations written long before), not here;
// BenchmarkAttentionSmall, whose operands stay warm, shows its cost.
func TestPrefetchRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]float32, 4096)
	for i := range buf {
		buf[i] = rng.Float32()
	}
	want := slices.Clone(buf)
	for _, c := range []struct{ off, stride, cols, rows int }{
		{0, 16, 16, 1}, {1, 17, 1, 9}, {15, 192, 16, 21}, {7, 64, 48, 60},
		{0, 0, 16, 5}, {4095, 1, 1, 1}, {4096 - 26*64 + 48, 64, 16, 26},
		{3, 100, 100, 40}, {0, 16, 0, 3}, {0, 16, 16, 0},
	} {
		prefetchRowsOf(buf, c.off, c.stride, c.cols, c.rows)
		if c.cols > 0 && c.rows > 0 {
			prefetchRows(&buf[c.off], c.stride, c.cols, c.rows)
		}
		if !slices.Equal(buf, want) {
			t.Fatalf("prefetch %+v changed the memory it hinted at", c)
		}
	}
	prefetchRowsOf(buf, len(buf), 16, 16, 4) // past the end: nothing to ask for
	prefetchRowsOf(nil, 0, 16, 16, 4)
}
