package asm

// Activation functions and their backward passes. Backward functions
// overwrite dx (dx may alias dy).

// Gelu stores the exact (erf) GELU of x in dst (dst may alias x):
//
//	for i := range dst { dst[i] = x[i] * Φ(x[i]) }  // Φ(x) = (1 + erf(x/√2))/2
//
// Φ is computed as 1 - E for x ≥ 0 and E for x < 0, where
// E = erfc(|x|/√2)/2 = t·exp(-z²)·P(t)/2, z = min(|x|/√2, 10), t = 1/(1+z/2)
// and P a degree-8 polynomial fitted to erfcx(z)/t (relative error 1.6e-7):
// the negative tail keeps its relative accuracy instead of cancelling in 1+erf.
func Gelu(dst, x []float32) {
	checkLen2("Gelu", dst, x)
	geluVec(dst, x)
}

// GeluBackward stores the gradient of Gelu in dx:
//
//	for i := range dx { dx[i] = dy[i] * (Φ(x[i]) + x[i]*exp(-x[i]²/2)/√(2π)) }
func GeluBackward(dx, x, dy []float32) {
	checkLen3("GeluBackward", dx, x, dy)
	geluBackwardVec(dx, x, dy)
}

// GeluTanh stores the tanh approximation of GELU in dst:
//
//	for i := range dst { dst[i] = x/2 * (1 + tanh(√(2/π)·(x + 0.044715x³))) }
//
// computed as x·σ(2u), u = √(2/π)·(x + 0.044715x³), σ the logistic function.
func GeluTanh(dst, x []float32) {
	checkLen2("GeluTanh", dst, x)
	geluTanhVec(dst, x)
}

// GeluTanhBackward stores the gradient of GeluTanh in dx:
//
//	for i := range dx { s := σ(2u); dx[i] = dy[i] * (s + x·s·(1-s)·2u'(x)) }
//
// with u'(x) = √(2/π)·(1 + 3·0.044715x²).
func GeluTanhBackward(dx, x, dy []float32) {
	checkLen3("GeluTanhBackward", dx, x, dy)
	geluTanhBackwardVec(dx, x, dy)
}

// QuickGelu stores x·σ(1.702x) (OpenAI CLIP's QuickGELU) in dst:
//
//	for i := range dst { dst[i] = x[i] / (1 + exp(-1.702*x[i])) }
func QuickGelu(dst, x []float32) {
	checkLen2("QuickGelu", dst, x)
	quickGeluVec(dst, x)
}

// QuickGeluBackward stores the gradient of QuickGelu in dx:
//
//	for i := range dx { s := σ(1.702x); dx[i] = dy[i] * (s + 1.702·x·s·(1-s)) }
func QuickGeluBackward(dx, x, dy []float32) {
	checkLen3("QuickGeluBackward", dx, x, dy)
	quickGeluBackwardVec(dx, x, dy)
}
