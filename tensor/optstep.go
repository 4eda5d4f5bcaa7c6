package tensor

import (
	"math"

	"github.com/gococa/gococa/asm"
)

// Optimizer update kernels. The optim package computes the per-step
// constants and calls these through the current backend, so that the
// update runs where the parameters live. The CPU versions below are the
// arithmetic optim documents, in float32, in this order.

// AdamWStep holds the float32 constants of one AdamW update. Per value:
//
//	m = Beta1·m + OneMinusBeta1·g
//	v = Beta2·v + OneMinusBeta2·g·g
//	w = w·Decay + NegStep·m / (√v + Eps)
type AdamWStep struct {
	Beta1, Beta2, OneMinusBeta1, OneMinusBeta2 float32
	Decay, NegStep, Eps                        float32
}

// SGDStep holds the float32 constants of one SGD update (torch.optim.SGD).
// Per value, with d = g + WeightDecay·w:
//
//	no momentum (buf nil):  w = w + NegLR·g           (WeightDecay 0)
//	                        w = w + NegLR·d           (otherwise)
//	First:                  buf = d; w = w + NegLR·(Nesterov ? d + Momentum·d : d)
//	Nesterov:               buf = Momentum·buf + OneMinusDampening·d; w = w + NegLR·(d + Momentum·buf)
//	otherwise:              buf = Momentum·buf + OneMinusDampening·d; w = w + NegLR·buf
type SGDStep struct {
	NegLR, WeightDecay, Momentum, OneMinusDampening float32
	First, Nesterov                                 bool
}

func (cpuBackend) Fill(dst []float32, v float32) {
	if v == 0 {
		clear(dst)
		return
	}
	for i := range dst {
		dst[i] = v
	}
}

// SumSquares sums in four interleaved float64 partial sums added in a
// fixed order.
func (cpuBackend) SumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

func (cpuBackend) AdamW(w, g, m, v []float32, s AdamWStep) {
	b1, b2, omb1, omb2 := s.Beta1, s.Beta2, s.OneMinusBeta1, s.OneMinusBeta2
	decay, negStep, eps := s.Decay, s.NegStep, s.Eps
	g = g[:len(w)]
	m = m[:len(w)]
	v = v[:len(w)]
	// The SIMD kernel takes the whole vectors, with the same arithmetic.
	c := [7]float32{b1, b2, omb1, omb2, decay, negStep, eps}
	for j := asm.AdamW(w, g, m, v, &c); j < len(w); j++ {
		gj := g[j]
		mj := m[j]*b1 + gj*omb1
		vj := v[j]*b2 + omb2*gj*gj
		m[j], v[j] = mj, vj
		w[j] = w[j]*decay + negStep*mj/(float32(math.Sqrt(float64(vj)))+eps)
	}
}

func (cpuBackend) SGD(w, g, b []float32, s SGDStep) {
	g = g[:len(w)]
	wd, negLR := s.WeightDecay, s.NegLR
	if b == nil {
		if wd == 0 {
			for j, gj := range g {
				w[j] += gj * negLR
			}
			return
		}
		for j, gj := range g {
			w[j] += (gj + w[j]*wd) * negLR
		}
		return
	}
	b = b[:len(w)]
	mu, omd := s.Momentum, s.OneMinusDampening
	switch {
	case s.First:
		// the buffer starts as d, undamped
		for j, gj := range g {
			d := gj + w[j]*wd
			b[j] = d
			if s.Nesterov {
				d += d * mu
			}
			w[j] += d * negLR
		}
	case s.Nesterov:
		for j, gj := range g {
			d := gj + w[j]*wd
			bj := b[j]*mu + d*omd
			b[j] = bj
			w[j] += (d + bj*mu) * negLR
		}
	default:
		for j, gj := range g {
			bj := b[j]*mu + (gj+w[j]*wd)*omd
			b[j] = bj
			w[j] += bj * negLR
		}
	}
}
