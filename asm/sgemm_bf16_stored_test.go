package asm

import (
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"
)

// TestSgemmBF16StoredT checks that a product reading a bfloat16 B in place
// stores what SgemmBF16 stores from the widened B, bit for bit (C's
// padding untouched), where it takes the product: in the dot form one and
// two blocks of k, a multiple of 8 columns and a tail of 3 and 5; in the
// packed GEMM the cases listed with them; padded rows of A, S and C, beta
// 0 and 1, a bias (against SgemmBF16Bias) in every other case of beta 0,
// on one and on three goroutines; and that it declines, leaving
// C alone, where the layout does not suit the form SgemmBF16 would take.
func TestSgemmBF16StoredT(t *testing.T) {
	type tc struct {
		m, n, k, lda, lds, ldc int
		beta                   float32
		take                   bool
		off                    int // s starts this many values into its buffer
	}
	cases := []tc{
		{50, 1536, 512, 512, 512, 1536, 0, true, 0},
		{77, 2051, 768, 800, 768, 2060, 1, true, 0},
		{33, 1029, 1536, 1536, 1600, 1029, 1, true, 0},
		{128, 256, 512, 512, 512, 256, 0, true, 0}, // n·k exactly 2^17
		{1, 4101, 64, 64, 64, 4101, 1, true, 0},    // one row, tail 5
		// The packed GEMM: more than 128 rows, or n·k below 2^17; one and
		// several blocks of k and of n, a last panel of 3, 5 and 17 columns,
		// few-row blocking (at most 48 rows), padded rows.
		{129, 1536, 512, 512, 512, 1536, 0, true, 0},
		{400, 768, 768, 768, 768, 768, 1, true, 0},
		{616, 3075, 768, 800, 770, 3080, 1, true, 0},
		{200, 4101, 1000, 1000, 1000, 4101, 0, true, 0}, // k blocks of 334, 4101 columns: two blocks of n
		{50, 255, 512, 512, 512, 255, 0, true, 0},       // n·k below 2^17
		{20, 197, 600, 600, 602, 197, 1, true, 0},       // at most 48 rows: k blocks of 300
		{300, 64, 2, 2, 2, 64, 0, true, 0},              // one pair
		{300, 256, 770, 770, 770, 256, 0, false, 0},     // k blocks of 257: pairs straddle them
		{300, 256, 513, 513, 514, 256, 0, false, 0},     // odd k
		{300, 256, 512, 512, 513, 256, 0, false, 0},     // odd lds
		{50, 1536, 528, 528, 528, 1536, 0, false, 0},    // k not a multiple of 32
		{50, 1536, 512, 512, 514, 1536, 0, true, 0},     // an even pad of S's rows
		{50, 1536, 512, 512, 513, 1536, 0, false, 0},    // odd lds: pairs straddle slots
		{50, 1536, 512, 512, 512, 1536, 0, false, 1},    // S not on a 4-byte boundary
		{50, 1536, 512, 512, 512, 1536, 0.5, false, 0},  // beta other than 0 or 1
	}
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	for _, procs := range []int{1, 3} {
		runtime.GOMAXPROCS(procs)
		for i, c := range cases {
			rng := rand.New(rand.NewSource(int64(i)))
			a := randSlice(rng, (c.m-1)*c.lda+c.k)
			buf := make([]uint16, c.off+(c.n-1)*c.lds+c.k)
			s := buf[c.off:]
			wide := make([]float32, len(s)) // S widened, as the caller widens it
			for j := range s {
				r := RoundBF16(float32(rng.NormFloat64()))
				s[j] = uint16(math.Float32bits(r) >> 16)
				wide[j] = r
			}
			c0 := randSlice(rng, (c.m-1)*c.ldc+c.n)
			got, want := slices.Clone(c0), slices.Clone(c0)
			var bias []float32
			if c.beta == 0 && i%2 == 1 {
				bias = randSlice(rng, c.n)
			}
			took := SgemmBF16StoredT(c.m, c.n, c.k, a, c.lda, s, c.lds, bias, c.beta, got, c.ldc)
			if took != (c.take && HasBF16()) {
				t.Fatalf("case %d %+v, %d goroutines: took = %v", i, c, procs, took)
			}
			if !took {
				if !slices.Equal(got, c0) {
					t.Fatalf("case %d %+v: declined but wrote C", i, c)
				}
				continue
			}
			if bias != nil {
				SgemmBF16Bias(false, true, c.m, c.n, c.k, 1, a, c.lda, wide, c.lds, bias, want, c.ldc)
			} else {
				SgemmBF16(false, true, c.m, c.n, c.k, 1, a, c.lda, wide, c.lds, c.beta, want, c.ldc)
			}
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("case %d %+v, %d goroutines: C[%d][%d] = %v, SgemmBF16 of the widened S %v", i, c, procs, j/c.ldc, j%c.ldc, got[j], want[j])
				}
			}
		}
	}
}

// TestSgemmBF16StoredTPanics checks the error of a short operand.
func TestSgemmBF16StoredTPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic for a short S")
		}
	}()
	m, n, k := 50, 1536, 512
	SgemmBF16StoredT(m, n, k, make([]float32, m*k), k, make([]uint16, n*k-1), k, nil, 0, make([]float32, m*n), n)
}

// TestSgemmBF16StoredTConcurrent calls SgemmBF16StoredT from several
// goroutines at once on shared A and S (each its own C), as a service's
// requests do, in the dot form (50 rows) and the packed GEMM (200 rows),
// and checks each against one call made alone (run under -race in CI: the
// per-goroutine workspaces and packed copies of S must not be shared).
func TestSgemmBF16StoredTConcurrent(t *testing.T) {
	if !HasBF16() {
		t.Skipf("no bfloat16 kernel at level %v", level)
	}
	for _, m := range []int{50, 200} {
		n, k := 1029, 768
		rng := rand.New(rand.NewSource(7))
		a := randSlice(rng, m*k)
		s := make([]uint16, n*k)
		for j := range s {
			s[j] = uint16(math.Float32bits(RoundBF16(float32(rng.NormFloat64()))) >> 16)
		}
		want := make([]float32, m*n)
		if !SgemmBF16StoredT(m, n, k, a, k, s, k, nil, 0, want, n) {
			t.Fatalf("%d rows: declined", m)
		}
		const workers = 4
		got := make([][]float32, workers)
		done := make(chan int)
		for w := range workers {
			got[w] = make([]float32, m*n)
			go func() {
				for range 3 {
					SgemmBF16StoredT(m, n, k, a, k, s, k, nil, 0, got[w], n)
				}
				done <- w
			}()
		}
		for range workers {
			w := <-done
			for j := range want {
				if math.Float32bits(got[w][j]) != math.Float32bits(want[j]) {
					t.Fatalf("%d rows, goroutine %d: C[%d][%d] = %v, alone %v", m, w, j/n, j%n, got[w][j], want[j])
				}
			}
		}
	}
}
