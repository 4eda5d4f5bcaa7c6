//go:build !purego

package asm

func sumSqDev(x []float32, mean float32) float32 {
	if avx2() {
		return sumSqDevAVX2(x, mean)
	}
	return sumSqDevGeneric(x, mean)
}

func normApply(y, x, gamma, beta []float32, mean, rstd float32) {
	if avx2() {
		normApplyAVX2(y, x, gamma, beta, mean, rstd)
		return
	}
	normApplyGeneric(y, x, gamma, beta, mean, rstd)
}

func normBwdSums(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32) {
	if avx2() {
		return normBwdSumsAVX2(dgamma, dbeta, dy, x, gamma, mean, rstd)
	}
	return normBwdSumsGeneric(dgamma, dbeta, dy, x, gamma, mean, rstd)
}

func normBwdDx(dx, dy, x, gamma []float32, mean, rstd, a, b float32) {
	if avx2() {
		normBwdDxAVX2(dx, dy, x, gamma, mean, rstd, a, b)
		return
	}
	normBwdDxGeneric(dx, dy, x, gamma, mean, rstd, a, b)
}

//go:noescape
func sumSqDevAVX2(x []float32, mean float32) float32

//go:noescape
func normApplyAVX2(y, x, gamma, beta []float32, mean, rstd float32)

//go:noescape
func normBwdSumsAVX2(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32)

//go:noescape
func normBwdDxAVX2(dx, dy, x, gamma []float32, mean, rstd, a, b float32)

// layerNormRowsArch runs LayerNormRows in one assembly loop at the AVX2
// and AVX-512 levels for n a multiple of 32; false: not handled.
func layerNormRowsArch(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) bool {
	if !avx2() || n == 0 || n%32 != 0 {
		return false
	}
	layerNormRowsAVX2(&y[0], &x[0], &gamma[0], &beta[0], &mean[0], &rstd[0], rows, n, eps)
	return true
}

// layerNormRowsBwdArch runs LayerNormRowsBackward (dx non-nil) in one
// assembly loop where layerNormRowsArch would; false: not handled.
func layerNormRowsBwdArch(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int) bool {
	if !avx2() || n == 0 || n%32 != 0 {
		return false
	}
	layerNormRowsBwdAVX2(&dx[0], &dgamma[0], &dbeta[0], &dy[0], &x[0], &gamma[0], &mean[0], &rstd[0], rows, n)
	return true
}

//go:noescape
func layerNormRowsAVX2(y, x, gamma, beta, mean, rstd *float32, rows, n int, eps float32)

//go:noescape
func layerNormRowsBwdAVX2(dx, dgamma, dbeta, dy, x, gamma, mean, rstd *float32, rows, n int)
