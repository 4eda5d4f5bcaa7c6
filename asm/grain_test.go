package asm

import "testing"

// TestBalancedGrain checks the grain gemmShared claims row tiles in: the
// one whose chunks, each handed to the goroutine with the least work so
// far, end soonest (worked by hand below), the largest of equals, never
// above the cap nor below half of it.
func TestBalancedGrain(t *testing.T) {
	for _, c := range []struct{ tiles, maxGrain, threads, want int }{
		{86, 12, 2, 11},  // 1024 rows: 12 ends at 48 tiles (4×12 | 3×12+2), 11 at 44 (4×11 | 3×11+9)
		{50, 12, 2, 12},  // 600 rows: 12 ends at 26 (2×12+2 | 2×12), 9 at 27
		{52, 12, 2, 9},   // 616 rows: 12 ends at 28 (2×12+4 | 2×12), 9 at 27 (3×9 | 2×9+7)
		{171, 12, 2, 12}, // 2048 rows: 12 and 7 end at 87; the larger wins
		{34, 8, 2, 8},    // 400 rows: 8 ends at 18, 7 at 20, 6 at 18
		{86, 12, 1, 12},  // one goroutine: the cap
		{3, 1, 2, 1},
		{100, 12, 3, 0}, // checked against the rule below
	} {
		got := balancedGrain(c.tiles, c.maxGrain, c.threads)
		if c.tiles == 100 {
			// Check against the rule itself rather than a hand count:
			// no grain in [cap/2, cap] ends sooner than the chosen one.
			end := func(g int) int {
				l := make([]int, c.threads)
				for lo := 0; lo < c.tiles; lo += g {
					i := 0
					for j := range l {
						if l[j] < l[i] {
							i = j
						}
					}
					l[i] += min(g, c.tiles-lo)
				}
				e := 0
				for _, v := range l {
					e = max(e, v)
				}
				return e
			}
			for g := (c.maxGrain + 1) / 2; g <= c.maxGrain; g++ {
				if end(g) < end(got) || end(g) == end(got) && g > got {
					t.Errorf("balancedGrain(%d, %d, %d) = %d ending at %d; %d ends at %d", c.tiles, c.maxGrain, c.threads, got, end(got), g, end(g))
				}
			}
			continue
		}
		if got != c.want {
			t.Errorf("balancedGrain(%d, %d, %d) = %d, want %d", c.tiles, c.maxGrain, c.threads, got, c.want)
		}
	}
}
