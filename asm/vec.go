package asm

import "fmt"

// Vector kernels over float32 slices. Each exported function checks its
// operand lengths (a mismatch is a programming error and panics with the
// function name and the lengths) and then runs the variant chosen by the
// package's SIMD level; every variant computes the loop shown in its doc
// comment, up to float32 rounding (SIMD variants sum in a different order
// and may fuse multiply-adds).

func checkLen2(fn string, a, b []float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("asm.%s: length mismatch %d != %d", fn, len(a), len(b)))
	}
}

func checkLen3(fn string, a, b, c []float32) {
	if len(a) != len(b) || len(a) != len(c) {
		panic(fmt.Sprintf("asm.%s: length mismatch %d, %d, %d", fn, len(a), len(b), len(c)))
	}
}

// Dot returns the inner product of x and y:
//
//	for i := range x { s += x[i] * y[i] }
func Dot(x, y []float32) float32 {
	checkLen2("Dot", x, y)
	return dot(x, y)
}

// Axpy adds alpha times x to y:
//
//	for i := range x { y[i] += alpha * x[i] }
func Axpy(alpha float32, x, y []float32) {
	checkLen2("Axpy", x, y)
	axpy(alpha, x, y)
}

// Scale multiplies x by alpha in place:
//
//	for i := range x { x[i] *= alpha }
func Scale(alpha float32, x []float32) {
	scale(alpha, x)
}

// Add stores the element-wise sum of x and y in dst (dst may alias x or y):
//
//	for i := range dst { dst[i] = x[i] + y[i] }
func Add(dst, x, y []float32) {
	checkLen3("Add", dst, x, y)
	add(dst, x, y)
}

// Mul stores the element-wise product of x and y in dst (dst may alias x or y):
//
//	for i := range dst { dst[i] = x[i] * y[i] }
func Mul(dst, x, y []float32) {
	checkLen3("Mul", dst, x, y)
	mul(dst, x, y)
}

// Sum returns the sum of the elements of x:
//
//	for i := range x { s += x[i] }
func Sum(x []float32) float32 {
	return sum(x)
}

// Max returns the largest element of x, or -Inf for an empty slice:
//
//	m := -Inf; for i := range x { m = max(m, x[i]) }
//
// The result is unspecified when x holds a NaN.
func Max(x []float32) float32 {
	return vmax(x)
}
