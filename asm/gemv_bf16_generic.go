package asm

import "math"

// gemvRowBF16Generic is the pure-Go kernel of GemvBF16 for one row of x:
// y[o] = x·w[o*k:(o+1)*k] + bias[o] for o < len(y), k = len(x), bias nil
// or len(y) long, summed in the order GemvBF16Strided documents.
func gemvRowBF16Generic(y, x []float32, w []uint16, bias []float32) {
	k := len(x)
	for o := range y {
		s := dotBF16Generic(x, w[o*k:(o+1)*k])
		if bias != nil {
			s += bias[o]
		}
		y[o] = s
	}
}

// dotBF16Generic is the inner product of x and the bfloat16 vector w (at
// least len(x) long) in GemvBF16's order: two groups of eight lanes over
// steps of 16, one more step of 8 into the first group, the groups added
// lane by lane and reduced pairwise, then the rest one by one.
func dotBF16Generic(x []float32, w []uint16) float32 {
	w = w[:len(x)]
	var a, b [8]float32
	i := 0
	for ; i+16 <= len(x); i += 16 {
		xs, ws := x[i:i+16], w[i:i+16]
		for j := range 8 {
			a[j] += xs[j] * math.Float32frombits(uint32(ws[j])<<16)
			b[j] += xs[8+j] * math.Float32frombits(uint32(ws[8+j])<<16)
		}
	}
	if i+8 <= len(x) {
		xs, ws := x[i:i+8], w[i:i+8]
		for j := range 8 {
			a[j] += xs[j] * math.Float32frombits(uint32(ws[j])<<16)
		}
		i += 8
	}
	for j := range 8 {
		a[j] += b[j]
	}
	s := ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
	for ; i < len(x); i++ {
		s += x[i] * math.Float32frombits(uint32(w[i])<<16)
	}
	return s
}
