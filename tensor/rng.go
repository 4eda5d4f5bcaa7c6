package tensor

import (
	"math"
	"math/rand/v2"
)

// RNG is a seeded random source for initialisation and data order. Its
// state can be saved and restored (MarshalBinary/UnmarshalBinary), so a
// resumed run draws the same numbers as an uninterrupted one.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{src: src, r: rand.New(src)}
}

// MarshalBinary returns the generator's state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.src.MarshalBinary() }

// UnmarshalBinary restores a state from MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error { return g.src.UnmarshalBinary(b) }

// Rand exposes the underlying generator.
func (g *RNG) Rand() *rand.Rand { return g.r }

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// IntN returns a uniform value in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Normal fills t with N(mean, std²) values.
func (g *RNG) Normal(t *Tensor, mean, std float64) {
	d := g.hostBuf(t)
	for i := range d {
		d[i] = float32(mean + std*g.r.NormFloat64())
	}
	g.store(t, d)
}

// hostBuf returns where to draw t's values: t's buffer on the host, a
// host buffer (store copies it in) for a device's.
func (g *RNG) hostBuf(t *Tensor) []float32 {
	d := t.Data()
	if onDevice(d) {
		return make([]float32, len(d))
	}
	return d
}

// store puts values drawn into hostBuf into t.
func (g *RNG) store(t *Tensor, d []float32) {
	if len(d) > 0 && &d[0] != &t.data[0] {
		CopyIn(t.data, d)
	}
}

// Uniform fills t with values uniform in [lo, hi).
func (g *RNG) Uniform(t *Tensor, lo, hi float64) {
	d := g.hostBuf(t)
	for i := range d {
		d[i] = float32(lo + (hi-lo)*g.r.Float64())
	}
	g.store(t, d)
}

// TruncNormal fills t with N(mean, std²) values redrawn until they fall in
// [a, b] (absolute bounds, as torch.nn.init.trunc_normal_).
func (g *RNG) TruncNormal(t *Tensor, mean, std, a, b float64) {
	d := g.hostBuf(t)
	for i := range d {
		for {
			v := mean + std*g.r.NormFloat64()
			if v >= a && v <= b {
				d[i] = float32(v)
				break
			}
		}
	}
	g.store(t, d)
}

// XavierUniform fills a 2-D (Out, In) weight with U(−r, r), r =
// gain·sqrt(6/(In+Out)), as torch.nn.init.xavier_uniform_.
func (g *RNG) XavierUniform(t *Tensor, gain float64) {
	fanOut, fanIn := t.shape[0], t.Numel()/max(t.shape[0], 1)
	r := gain * math.Sqrt(6/float64(fanIn+fanOut))
	g.Uniform(t, -r, r)
}
