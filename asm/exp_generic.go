package asm

import "math"

// Constants of the exp method described on Exp. The SIMD variants use the
// same constants (exp_amd64.s, exp_arm64.s).
const (
	expLog2e = 0x1.715476p+0 // log2(e)
	expLn2Hi = 0x1.62e4p-1   // ln 2, high 15 bits: n·expLn2Hi is exact for |n| < 512
	expLn2Lo = 0x1.7f7d1cp-20
	expMagic = 0x1.8p+23 // adding it rounds to an integer held in the low mantissa bits
	expMax   = 89.0      // exp(89) overflows; clamping keeps n within 8 bits
	expMin   = -105.0    // exp(-105) rounds to 0

	// e**r ≈ 1 + r·(1 + r·(c2 + r·(c3 + r·(c4 + r·(c5 + r·c6))))) on |r| ≤ ln2/2.
	expC2 = 0x1.fffffcp-2
	expC3 = 0x1.55541ap-3
	expC4 = 0x1.555822p-5
	expC5 = 0x1.126782p-7
	expC6 = 0x1.6ae73p-10
)

// expf is the scalar form of the vector exp (see Exp).
func expf(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expMin), expMax)
	z := x*expLog2e + expMagic
	n := z - expMagic
	r := x - n*expLn2Hi
	r = r - n*expLn2Lo
	p := expC6*r + expC5
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + 1
	p = p*r + 1
	ni := int32(math.Float32bits(z)) - 0x4b400000
	n1 := ni >> 1
	n2 := ni - n1
	s1 := math.Float32frombits(uint32(n1+127) << 23)
	s2 := math.Float32frombits(uint32(n2+127) << 23)
	return p * s1 * s2
}

func expGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = expf(v)
	}
}

func sigmoidf(x float32) float32 {
	return 1 / (1 + expf(-x))
}

func sigmoidGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = sigmoidf(v)
	}
}
