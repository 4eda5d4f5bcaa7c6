package asm

// expSubSumGeneric stores exp(x[i]-m) in dst and returns the sum.
func expSubSumGeneric(dst, x []float32, m float32) float32 {
	x = x[:len(dst)]
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		e0 := expf(x[i] - m)
		e1 := expf(x[i+1] - m)
		dst[i], dst[i+1] = e0, e1
		s0 += e0
		s1 += e1
	}
	for ; i < len(x); i++ {
		e := expf(x[i] - m)
		dst[i] = e
		s0 += e
	}
	return s0 + s1
}

// expSubSumNoStoreGeneric returns Σ exp(x[i]-m).
func expSubSumNoStoreGeneric(x []float32, m float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += expf(x[i] - m)
		s1 += expf(x[i+1] - m)
	}
	for ; i < len(x); i++ {
		s0 += expf(x[i] - m)
	}
	return s0 + s1
}

// addScalarGeneric stores x[i]+c in dst.
func addScalarGeneric(dst, x []float32, c float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = v + c
	}
}

// mulSubGeneric stores y[i]*(dy[i]-d) in dx.
func mulSubGeneric(dx, y, dy []float32, d float32) {
	y = y[:len(dx)]
	dy = dy[:len(dx)]
	for i := range dx {
		dx[i] = y[i] * (dy[i] - d)
	}
}

// logSoftmaxBwdGeneric stores dy[i] - exp(y[i])*s in dx.
func logSoftmaxBwdGeneric(dx, y, dy []float32, s float32) {
	y = y[:len(dx)]
	dy = dy[:len(dx)]
	for i := range dx {
		dx[i] = dy[i] - expf(y[i])*s
	}
}
