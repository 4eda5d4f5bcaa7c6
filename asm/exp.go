package asm

// Exp stores e**x[i] in dst[i] (dst may alias x):
//
//	for i := range dst { dst[i] = float32(math.Exp(float64(x[i]))) }
//
// It is accurate to 2 ulp over the whole float32 range: results overflow to
// +Inf above about 88.72, are subnormal below about -87.34 and are exactly 0
// for -Inf and anything below about -103.97; NaN gives NaN.
//
// Method (all variants): n = round(x·log2 e) by the 1.5·2**23 rounding
// constant, r = x - n·ln2 with ln2 split in two (Cody-Waite), e**r by a
// degree-6 polynomial fitted on [-ln2/2, ln2/2] (relative error 1.7e-8), and
// the scale 2**n applied as two exact powers of two 2**(n>>1)·2**(n-n>>1) so
// that overflow and gradual underflow need no special path.
func Exp(dst, x []float32) {
	checkLen2("Exp", dst, x)
	expVec(dst, x)
}

// Sigmoid stores the logistic function of x in dst (dst may alias x):
//
//	for i := range dst { dst[i] = 1 / (1 + exp(-x[i])) }
func Sigmoid(dst, x []float32) {
	checkLen2("Sigmoid", dst, x)
	sigmoidVec(dst, x)
}
