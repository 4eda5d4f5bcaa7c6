package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adamwRef is the update of asm.AdamW with every operation rounded
// (explicit conversions forbid fused multiply-adds).
func adamwRef(w, g, m, v []float32, c *[7]float32) {
	for j := range w {
		mj := float32(float32(m[j]*c[0]) + float32(g[j]*c[2]))
		vj := float32(float32(v[j]*c[1]) + float32(float32(c[3]*g[j])*g[j]))
		m[j], v[j] = mj, vj
		q := float32(float32(c[5]*mj) / float32(float32(math.Sqrt(float64(vj)))+c[6]))
		w[j] = float32(float32(w[j]*c[4]) + q)
	}
}

// TestAdamW checks AdamW's kernel against the rounded reference bit for bit
// (tolerance 0: the same operations in the same order) at every level, for
// lengths around the vector width, with gradients, moments and weights
// spread over many magnitudes (v = 0 included), and that it touches nothing
// past the prefix it reports.
func TestAdamW(t *testing.T) {
	forLevels(t, func(t *testing.T, l Level) {
		rng := rand.New(rand.NewPCG(18, 13))
		mag := func() float32 {
			return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-8)))
		}
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 1000, 4099} {
			c := &[7]float32{0.9, 0.98, 1 - 0.9, 1 - 0.98, 1 - 2e-3*0.05, -2e-3 / (1 - 0.9), 1e-6}
			if n%2 == 1 {
				c = &[7]float32{0.8, 0.999, 0.2, 0.001, 1, -1e-4, 1e-8}
			}
			w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i], m[i], v[i] = mag(), mag(), mag(), float32(math.Abs(float64(mag())))
				if i%7 == 3 {
					v[i], m[i] = 0, 0
				}
			}
			rw, rg, rm, rv := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
			done := AdamW(w, g, m, v, c)
			if done < 0 || done > n || (l == AVX512 && done != n&^15) {
				t.Fatalf("n=%d: AdamW reports %d values", n, done)
			}
			adamwRef(rw[:done], rg, rm[:done], rv[:done], c)
			for i := range w {
				for _, p := range [][2]float32{{w[i], rw[i]}, {m[i], rm[i]}, {v[i], rv[i]}, {g[i], rg[i]}} {
					if math.Float32bits(p[0]) != math.Float32bits(p[1]) {
						t.Fatalf("n=%d, value %d (of %d updated): w %v m %v v %v, reference w %v m %v v %v",
							n, i, done, w[i], m[i], v[i], rw[i], rm[i], rv[i])
					}
				}
			}
		}
	})
}
