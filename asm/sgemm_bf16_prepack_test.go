package asm

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"
)

// TestSgemmBF16PackedB checks that a product with B packed ahead stores
// what SgemmBF16 stores, bit for bit: shapes with partial row tiles,
// partial and several B panels and k blocks (odd k: a half pair), both
// orientations of A, alpha and beta (0, 1, other), on one and on four
// goroutines (whose split of the rows must not change a value).
func TestSgemmBF16PackedB(t *testing.T) {
	if PackedBF16BLen(1, 1, 1) == 0 {
		t.Skipf("no bfloat16 kernel at level %v", level)
	}
	rng := rand.New(rand.NewSource(11))
	shapes := [][3]int{{1, 1, 1}, {12, 32, 2}, {13, 31, 3}, {64, 256, 832}, {64, 64, 385}, {577, 64, 416},
		{192, 64, 1664}, {40, 100, 767}, {5, 4100, 9}, {300, 33, 1000}}
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		for si, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for v := 0; v < 4; v++ {
				transA := v&1 != 0
				alpha, beta := float32(1), float32(0)
				if v&2 != 0 {
					alpha, beta = 0.75, []float32{1, 0.5}[si%2]
				}
				lda, ldb, ldc := k+3, n+5, n+1
				ar := m
				if transA {
					lda, ar = m+2, k
				}
				a := randSlice(rng, (ar-1)*lda+lda)
				b := randSlice(rng, (k-1)*ldb+n)
				c0 := randSlice(rng, (m-1)*ldc+n)
				want := append([]float32(nil), c0...)
				SgemmBF16(transA, false, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
				pb := make([]float32, PackedBF16BLen(m, n, k)+1)
				pb[len(pb)-1] = 42 // not written
				PackBF16B(pb[:len(pb)-1], m, n, k, b, ldb)
				if pb[len(pb)-1] != 42 {
					t.Fatalf("PackBF16B wrote past its length")
				}
				got := append([]float32(nil), c0...)
				SgemmBF16PackedB(transA, m, n, k, alpha, a, lda, pb, beta, got, ldc)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("GOMAXPROCS %d, %d×%d×%d transA=%v alpha=%v beta=%v: c[%d] = %v, SgemmBF16 %v",
							procs, m, n, k, transA, alpha, beta, i, got[i], want[i])
					}
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestSgemmBF16PackedBPanics checks the errors of short operands, and
// where there is no bfloat16 kernel, that both functions say so.
func TestSgemmBF16PackedBPanics(t *testing.T) {
	m, n, k := 13, 40, 50
	size := PackedBF16BLen(m, n, k)
	type panicCase struct {
		name, want string
		fn         func()
	}
	check := func(cases []panicCase) {
		for _, c := range cases {
			func() {
				defer func() {
					r := recover()
					if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
						t.Errorf("%s: panic %v, want one naming %q", c.name, r, c.want)
					}
				}()
				c.fn()
			}()
		}
	}
	if size == 0 {
		check([]panicCase{
			{"pack", "no bfloat16 kernel", func() { PackBF16B(make([]float32, 1<<12), m, n, k, make([]float32, k*n), n) }},
			{"product", "no bfloat16 kernel", func() {
				SgemmBF16PackedB(false, m, n, k, 1, make([]float32, m*k), k, make([]float32, 1<<12), 0, make([]float32, m*n), n)
			}},
		})
		return
	}
	check([]panicCase{
		{"short dst", "dst", func() { PackBF16B(make([]float32, size-1), m, n, k, make([]float32, k*n), n) }},
		{"short b", "b 1999", func() { PackBF16B(make([]float32, size), m, n, k, make([]float32, k*n-1), n) }},
		{"short pb", "packed B", func() {
			SgemmBF16PackedB(false, m, n, k, 1, make([]float32, m*k), k, make([]float32, size-1), 0, make([]float32, m*n), n)
		}},
		{"short a", "a 649", func() {
			SgemmBF16PackedB(false, m, n, k, 1, make([]float32, m*k-1), k, make([]float32, size), 0, make([]float32, m*n), n)
		}},
		{"short c", "c 519", func() {
			SgemmBF16PackedB(false, m, n, k, 1, make([]float32, m*k), k, make([]float32, size), 0, make([]float32, m*n-1), n)
		}},
	})
}

// TestSgemmBF16PackedBConcurrent runs packing and products from several
// goroutines at once (the in-process ranks of data-parallel training do),
// each against SgemmBF16's result computed beforehand; under -race it
// checks that the two share nothing but the workspace lists.
func TestSgemmBF16PackedBConcurrent(t *testing.T) {
	if PackedBF16BLen(1, 1, 1) == 0 {
		t.Skipf("no bfloat16 kernel at level %v", level)
	}
	const m, n, k, workers = 64, 96, 200, 4
	type job struct{ a, b, want []float32 }
	rng := rand.New(rand.NewSource(12))
	jobs := make([]job, workers)
	for i := range jobs {
		j := job{a: randSlice(rng, k*m), b: randSlice(rng, k*n), want: make([]float32, m*n)}
		SgemmBF16(true, false, m, n, k, 1, j.a, m, j.b, n, 0, j.want, n)
		jobs[i] = j
	}
	errs := make(chan error, workers)
	for _, j := range jobs {
		go func() {
			pb := make([]float32, PackedBF16BLen(m, n, k))
			c := make([]float32, m*n)
			for range 50 {
				PackBF16B(pb, m, n, k, j.b, n)
				SgemmBF16PackedB(true, m, n, k, 1, j.a, m, pb, 0, c, n)
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(j.want[i]) {
						errs <- fmt.Errorf("c[%d] = %v, SgemmBF16 %v", i, c[i], j.want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSgemmBF16PackedBAllocs: on one goroutine the product takes its
// workspace from the lists and allocates nothing (a training step runs
// one per Linear).
func TestSgemmBF16PackedBAllocs(t *testing.T) {
	if PackedBF16BLen(1, 1, 1) == 0 {
		t.Skipf("no bfloat16 kernel at level %v", level)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	m, n, k := 64, 256, 832
	a, b, c := make([]float32, k*m), make([]float32, k*n), make([]float32, m*n)
	pb := make([]float32, PackedBF16BLen(m, n, k))
	PackBF16B(pb, m, n, k, b, n)
	if got := testing.AllocsPerRun(20, func() { SgemmBF16PackedB(true, m, n, k, 1, a, m, pb, 0, c, n) }); got != 0 {
		t.Fatalf("SgemmBF16PackedB allocated %v times per call on one goroutine", got)
	}
}
