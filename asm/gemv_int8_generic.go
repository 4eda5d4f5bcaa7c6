package asm

// gemvRowInt8Generic is the pure-Go kernel of GemvInt8 for one row of x:
// y[o] = float32((x·w[o*k:(o+1)*k])·scale[o]) + bias[o] for o < len(y),
// k = len(x), scale len(y) long, bias nil or len(y) long, summed in the
// order GemvInt8Strided documents.
func gemvRowInt8Generic(y, x []float32, w []int8, scale, bias []float32) {
	k := len(x)
	scale = scale[:len(y)]
	for o := range y {
		// The conversion rounds the product: it is never fused with
		// the bias.
		s := float32(dotInt8Generic(x, w[o*k:(o+1)*k]) * scale[o])
		if bias != nil {
			s += bias[o]
		}
		y[o] = s
	}
}

// dotInt8Generic is the inner product of x and the int8 vector w (at least
// len(x) long) in GemvBF16's order: two groups of eight lanes over steps of
// 16, one more step of 8 into the first group, the groups added lane by
// lane and reduced pairwise, then the rest one by one.
func dotInt8Generic(x []float32, w []int8) float32 {
	w = w[:len(x)]
	var a, b [8]float32
	i := 0
	for ; i+16 <= len(x); i += 16 {
		xs, ws := x[i:i+16], w[i:i+16]
		for j := range 8 {
			a[j] += xs[j] * float32(ws[j])
			b[j] += xs[8+j] * float32(ws[8+j])
		}
	}
	if i+8 <= len(x) {
		xs, ws := x[i:i+8], w[i:i+8]
		for j := range 8 {
			a[j] += xs[j] * float32(ws[j])
		}
		i += 8
	}
	for j := range 8 {
		a[j] += b[j]
	}
	s := ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
	for ; i < len(x); i++ {
		s += x[i] * float32(w[i])
	}
	return s
}
