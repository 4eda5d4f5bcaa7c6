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
