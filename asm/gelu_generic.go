package asm

// Constants of the GELU kernels; the SIMD variants use the same ones.
const (
	geluInvSqrt2   = 0x1.6a09e6p-1 // 1/√2
	geluInvSqrt2Pi = 0x1.988454p-2 // 1/√(2π)
	geluZMax       = 10.0          // erfc(10)/2 is 1e-45
	geluTanhK      = 0x1.988454p-1 // √(2/π)
	geluTanhK2     = 2 * geluTanhK
	geluTanhC      = 0.044715
	quickGeluK     = 1.702
	sigmoidUMin    = -80.0

	// erf(z) ≈ z·(S0 + S1·z² + ... + S5·z¹⁰) for z < geluSmall (Taylor; the
	// first omitted term is below 1.5e-8).
	geluSmall = 0.5
	geluS0    = 0x1.20dd76p+0  // 2/√π
	geluS1    = -0x1.812746p-2 // -2/(3√π)
	geluS2    = 0x1.ce2f22p-4  // 2/(10√π)
	geluS3    = -0x1.b82ce4p-6 // -2/(42√π)
	geluS4    = 0x1.565bcep-8  // 2/(216√π)
	geluS5    = -0x1.c02db4p-11

	// erfc(z)·exp(z²) ≈ t·P(t), t = 1/(1+z/2), on 0 ≤ z ≤ 10.
	geluP0 = 0x1.20db44p-2
	geluP1 = 0x1.2126fep-2
	geluP2 = 0x1.f1e062p-3
	geluP3 = 0x1.9f1a4cp-3
	geluP4 = -0x1.b43c44p-6
	geluP5 = 0x1.1cbda6p-2
	geluP6 = -0x1.f2e48cp-2
	geluP7 = 0x1.2367ap-2
	geluP8 = -0x1.e3e49ap-5
)

// phiExp returns Φ(x), the standard normal CDF, and exp(-z²) with
// z = min(|x|/√2, geluZMax) (so exp(-x²/2) up to the clamp). For z <
// geluSmall it uses the Taylor series of erf, else E = erfc(z)/2 as
// described on Gelu.
func phiExp(x float32) (phi, e float32) {
	z := x * geluInvSqrt2
	if z < 0 {
		z = -z
	}
	if z > geluZMax {
		z = geluZMax
	}
	t := 1 / (1 + 0.5*z)
	e = expf(-z * z)
	p := geluP8*t + geluP7
	p = p*t + geluP6
	p = p*t + geluP5
	p = p*t + geluP4
	p = p*t + geluP3
	p = p*t + geluP2
	p = p*t + geluP1
	p = p*t + geluP0
	h := 0.5 * t * e * p
	if z < geluSmall {
		// Φ = 1/2 + erf(x/√2)/2 by its Taylor series, more accurate near 0.
		w := z * z
		q := geluS5*w + geluS4
		q = q*w + geluS3
		q = q*w + geluS2
		q = q*w + geluS1
		q = q*w + geluS0
		return 0.5 + 0.5*(x*geluInvSqrt2)*q, e
	}
	if x < 0 {
		return h, e
	}
	return 1 - h, e
}

func geluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		phi, _ := phiExp(v)
		dst[i] = v * phi
	}
}

func geluBackwardGeneric(dx, x, dy []float32) {
	x = x[:len(dx)]
	dy = dy[:len(dx)]
	for i, v := range x {
		phi, e := phiExp(v)
		dx[i] = dy[i] * (phi + v*e*geluInvSqrt2Pi)
	}
}

func geluTanhGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		u := geluTanhK2 * (v + geluTanhC*v*v*v)
		dst[i] = v * sigmoidf(u)
	}
}

func geluTanhBackwardGeneric(dx, x, dy []float32) {
	x = x[:len(dx)]
	dy = dy[:len(dx)]
	for i, v := range x {
		v2 := v * v
		u := geluTanhK2 * (v + geluTanhC*v2*v)
		du := geluTanhK2 * (1 + 3*geluTanhC*v2)
		s, s1 := sigmoidPair(u)
		dx[i] = dy[i] * (s + v*s*s1*du)
	}
}

// sigmoidPair returns σ(u) and 1-σ(u) without cancellation: with
// e = exp(-u), σ = 1/(1+e) and 1-σ = e·σ. u is clamped below at
// sigmoidUMin so that e stays finite (σ(-80) is 1.8e-35).
func sigmoidPair(u float32) (s, s1 float32) {
	u = max(u, sigmoidUMin)
	e := expf(-u)
	s = 1 / (1 + e)
	return s, e * s
}

func quickGeluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = v * sigmoidf(quickGeluK*v)
	}
}

func quickGeluBackwardGeneric(dx, x, dy []float32) {
	x = x[:len(dx)]
	dy = dy[:len(dx)]
	for i, v := range x {
		s, s1 := sigmoidPair(quickGeluK * v)
		dx[i] = dy[i] * (s + quickGeluK*v*s*s1)
	}
}
