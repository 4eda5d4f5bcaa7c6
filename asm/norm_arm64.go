//go:build !purego

package asm

func sumSqDev(x []float32, mean float32) float32 {
	if neon() {
		n4 := len(x) &^ 3
		return sumSqDevNEON(x[:n4], mean) + sumSqDevGeneric(x[n4:], mean)
	}
	return sumSqDevGeneric(x, mean)
}

func normApply(y, x, gamma, beta []float32, mean, rstd float32) {
	if neon() {
		n4 := len(y) &^ 3
		normApplyNEON(y[:n4], x[:n4], gamma[:n4], beta[:n4], mean, rstd)
		normApplyGeneric(y[n4:], x[n4:], gamma[n4:], beta[n4:], mean, rstd)
		return
	}
	normApplyGeneric(y, x, gamma, beta, mean, rstd)
}

func normBwdSums(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32) {
	if neon() {
		n4 := len(x) &^ 3
		a, b := normBwdSumsNEON(dgamma[:n4], dbeta[:n4], dy[:n4], x[:n4], gamma[:n4], mean, rstd)
		c, d := normBwdSumsGeneric(dgamma[n4:], dbeta[n4:], dy[n4:], x[n4:], gamma[n4:], mean, rstd)
		return a + c, b + d
	}
	return normBwdSumsGeneric(dgamma, dbeta, dy, x, gamma, mean, rstd)
}

func normBwdDx(dx, dy, x, gamma []float32, mean, rstd, a, b float32) {
	if neon() {
		n4 := len(dx) &^ 3
		normBwdDxNEON(dx[:n4], dy[:n4], x[:n4], gamma[:n4], mean, rstd, a, b)
		normBwdDxGeneric(dx[n4:], dy[n4:], x[n4:], gamma[n4:], mean, rstd, a, b)
		return
	}
	normBwdDxGeneric(dx, dy, x, gamma, mean, rstd, a, b)
}

//go:noescape
func sumSqDevNEON(x []float32, mean float32) float32

//go:noescape
func normApplyNEON(y, x, gamma, beta []float32, mean, rstd float32)

//go:noescape
func normBwdSumsNEON(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32)

//go:noescape
func normBwdDxNEON(dx, dy, x, gamma []float32, mean, rstd, a, b float32)
