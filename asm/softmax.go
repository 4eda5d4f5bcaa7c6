package asm

import "math"

// SoftmaxRow stores the softmax of x in dst (dst may alias x):
//
//	m := Max(x)
//	for i := range x { dst[i] = exp(x[i] - m) }
//	s := Sum(dst)
//	for i := range x { dst[i] /= s }
//
// -Inf entries (masked positions) give exactly 0, and a row whose entries
// are all -Inf (or an empty row) gives all zeros rather than NaN.
func SoftmaxRow(dst, x []float32) {
	checkLen2("SoftmaxRow", dst, x)
	m := vmax(x)
	if math.IsInf(float64(m), -1) {
		clear(dst)
		return
	}
	s := expSubSum(dst, x, m)
	scale(1/s, dst)
}

// LogSoftmaxRow stores the log-softmax of x in dst (dst may alias x):
//
//	m := Max(x)
//	lse := m + log(Σ exp(x[i] - m))
//	for i := range x { dst[i] = x[i] - lse }
//
// A row whose entries are all -Inf gives all -Inf (the log of the zeros
// SoftmaxRow gives). It returns lse.
func LogSoftmaxRow(dst, x []float32) (lse float32) {
	checkLen2("LogSoftmaxRow", dst, x)
	m := vmax(x)
	if math.IsInf(float64(m), -1) {
		for i := range dst {
			dst[i] = float32(math.Inf(-1))
		}
		return m
	}
	s := expSubSumNoStore(x, m)
	lse = m + float32(math.Log(float64(s)))
	addScalar(dst, x, -lse)
	return lse
}

// LogSumExpRow returns log Σ exp(x[i]), computed as m + log Σ exp(x[i] − m)
// with m = Max(x): LogSoftmaxRow's result without its output. An empty row
// or one whose entries are all -Inf gives -Inf.
func LogSumExpRow(x []float32) float32 {
	m := vmax(x)
	if math.IsInf(float64(m), -1) {
		return m
	}
	return m + float32(math.Log(float64(expSubSumNoStore(x, m))))
}

// ExpShiftRow stores exp(x[i] − c) in dst (dst may alias x) and returns
// their sum:
//
//	for i := range x { dst[i] = exp(x[i] - c) }
//
// c must be at least Max(x) (x's log-sum-exp, say, which makes dst the
// softmax of x), so that no term overflows; c = -Inf (a row of -Inf
// entries) gives zeros.
func ExpShiftRow(dst, x []float32, c float32) float32 {
	checkLen2("ExpShiftRow", dst, x)
	if math.IsInf(float64(c), -1) {
		clear(dst)
		return 0
	}
	return expSubSum(dst, x, c)
}

// SoftmaxRowBackward stores the gradient of SoftmaxRow with respect to its
// input in dx, given the softmax output y and the output gradient dy (dx may
// alias dy):
//
//	d := Dot(y, dy)
//	for i := range dx { dx[i] = y[i] * (dy[i] - d) }
func SoftmaxRowBackward(dx, y, dy []float32) {
	checkLen3("SoftmaxRowBackward", dx, y, dy)
	d := dot(y, dy)
	mulSub(dx, y, dy, d)
}

// LogSoftmaxRowBackward stores the gradient of LogSoftmaxRow with respect to
// its input in dx, given its output y and the output gradient dy (dx may
// alias dy):
//
//	s := Sum(dy)
//	for i := range dx { dx[i] = dy[i] - exp(y[i]) * s }
func LogSoftmaxRowBackward(dx, y, dy []float32) {
	checkLen3("LogSoftmaxRowBackward", dx, y, dy)
	s := sum(dy)
	logSoftmaxBwd(dx, y, dy, s)
}
