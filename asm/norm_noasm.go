//go:build (!amd64 && !arm64) || purego

package asm

func sumSqDev(x []float32, mean float32) float32 { return sumSqDevGeneric(x, mean) }
func normApply(y, x, gamma, beta []float32, mean, rstd float32) {
	normApplyGeneric(y, x, gamma, beta, mean, rstd)
}
func normBwdSums(dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) (sg, sgx float32) {
	return normBwdSumsGeneric(dgamma, dbeta, dy, x, gamma, mean, rstd)
}
func normBwdDx(dx, dy, x, gamma []float32, mean, rstd, a, b float32) {
	normBwdDxGeneric(dx, dy, x, gamma, mean, rstd, a, b)
}
