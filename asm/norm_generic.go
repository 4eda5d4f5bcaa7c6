package asm

// sumSqDevGeneric returns Σ (x[i]-mean)².
func sumSqDevGeneric(x []float32, mean float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-mean, x[i+1]-mean, x[i+2]-mean, x[i+3]-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - mean
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// normApplyGeneric stores (x[i]-mean)*rstd*gamma[i] + beta[i] in y.
func normApplyGeneric(y, x, gamma, beta []float32, mean, rstd float32) {
	x = x[:len(y)]
	gamma = gamma[:len(y)]
	beta = beta[:len(y)]
	for i := range y {
		y[i] = (x[i]-mean)*rstd*gamma[i] + beta[i]
	}
}

// normBwdSumsGeneric accumulates dgamma and dbeta (either may be nil) and
// returns Σ g[i] and Σ g[i]*xhat[i] with g = dy*gamma.
func normBwdSumsGeneric(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32) {
	dy = dy[:len(x)]
	gamma = gamma[:len(x)]
	var a0, a1, b0, b1 float32
	for i := range x {
		xh := (x[i] - mean) * rstd
		d := dy[i]
		if dgamma != nil {
			dgamma[i] += d * xh
		}
		if dbeta != nil {
			dbeta[i] += d
		}
		g := d * gamma[i]
		if i&1 == 0 {
			a0 += g
			b0 += g * xh
		} else {
			a1 += g
			b1 += g * xh
		}
	}
	return a0 + a1, b0 + b1
}

// normBwdDxGeneric stores rstd*(dy[i]*gamma[i] - a - xhat[i]*b) in dx.
func normBwdDxGeneric(dx, dy, x, gamma []float32, mean, rstd, a, b float32) {
	dy = dy[:len(dx)]
	x = x[:len(dx)]
	gamma = gamma[:len(dx)]
	for i := range dx {
		xh := (x[i] - mean) * rstd
		dx[i] = rstd * (dy[i]*gamma[i] - a - xh*b)
	}
}
