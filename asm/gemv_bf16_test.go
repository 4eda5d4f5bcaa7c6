package asm

import (
	"math"
	"math/rand"
	"testing"
)

// TestGemvBF16 compares GemvBF16 (with the CPU's kernel) and the generic
// dot product against a float64 reference over widened weights, for sizes
// that exercise every loop and tail.
func TestGemvBF16(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][3]int{{1, 1, 1}, {1, 3, 7}, {2, 5, 8}, {3, 4, 31}, {1, 9, 32}, {6, 7, 45}, {1, 16, 512}, {4, 3, 1000}} {
		m, n, k := s[0], s[1], s[2]
		x := make([]float32, m*k)
		w := make([]uint16, n*k)
		bias := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		for i := range w {
			w[i] = uint16(math.Float32bits(rng.Float32()*2-1) >> 16)
		}
		for i := range bias {
			bias[i] = rng.Float32()
		}
		for _, b := range [][]float32{bias, nil} {
			y := make([]float32, m*n)
			GemvBF16(y, x, w, b, m, n, k)
			for r := 0; r < m; r++ {
				for o := 0; o < n; o++ {
					want, abs := 0.0, 0.0
					if b != nil {
						want, abs = float64(b[o]), math.Abs(float64(b[o]))
					}
					for i := 0; i < k; i++ {
						p := float64(x[r*k+i]) * float64(math.Float32frombits(uint32(w[o*k+i])<<16))
						want += p
						abs += math.Abs(p)
					}
					tol := 1e-6*abs + 1e-7
					if d := math.Abs(float64(y[r*n+o]) - want); d > tol {
						t.Fatalf("%v (%v): y[%d,%d] = %g, want %g", s, Current(), r, o, y[r*n+o], want)
					}
					g := dotBF16Generic(x[r*k:(r+1)*k], w[o*k:(o+1)*k])
					if b != nil {
						g += b[o]
					}
					if d := math.Abs(float64(g) - want); d > tol {
						t.Fatalf("%v generic: y[%d,%d] = %g, want %g", s, r, o, g, want)
					}
				}
			}
		}
	}
}

func TestGemvBF16Misuse(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short weight slice")
		}
	}()
	GemvBF16(make([]float32, 2), make([]float32, 4), make([]uint16, 3), nil, 1, 2, 4)
}
