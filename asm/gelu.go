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

// GeluDeriv stores Gelu(x) in dst and the derivative of Gelu in deriv:
//
//	for i := range dst { dst[i] = x[i]*Φ(x[i]); deriv[i] = Φ(x[i]) + x[i]*exp(-x[i]²/2)/√(2π) }
//
// bit for bit what Gelu stores and what GeluBackward forms before its
// multiply by dy, so that Mul(dx, deriv, dy) stores GeluBackward(dx, x, dy)
// exactly. A training forward pass keeps deriv, and the backward pass is
// then one multiply instead of a second evaluation of Φ and exp. The
// AVX-512 level does both in one pass; the others run Gelu and GeluBackward
// with dy = 1 (exact) per chunk. dst may alias x; deriv must overlap
// neither.
func GeluDeriv(dst, deriv, x []float32) {
	checkLen3("GeluDeriv", dst, deriv, x)
	geluDerivVec(dst, deriv, x)
}

// geluDerivPasses is GeluDeriv as two passes over each chunk of
// len(geluOnes): the derivative first, so that dst may alias x.
func geluDerivPasses(dst, deriv, x []float32) {
	for lo := 0; lo < len(x); lo += len(geluOnes) {
		hi := min(lo+len(geluOnes), len(x))
		geluBackwardVec(deriv[lo:hi], x[lo:hi], geluOnes[:hi-lo])
		geluVec(dst[lo:hi], x[lo:hi])
	}
}

// geluOnes is dy = 1 for geluDerivPasses (read only).
var geluOnes = func() (o [1024]float32) {
	for i := range o {
		o[i] = 1
	}
	return
}()

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
