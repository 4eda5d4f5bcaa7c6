package asm

import (
	"fmt"
	"math"
)

// LayerNormRow normalises one row x (length C) into y (y may alias x) and
// returns the statistics LayerNormRowBackward needs:
//
//	mean := Σ x[i] / C
//	rstd := 1 / sqrt(Σ (x[i]-mean)² / C + eps)
//	for i := range x { y[i] = (x[i]-mean)*rstd*gamma[i] + beta[i] }
//
// The variance is the biased (population) one, as in PyTorch's layer_norm,
// and is computed in a second pass over x for accuracy. gamma and beta must
// have length C. An empty row returns mean 0 and rstd 1/sqrt(eps).
func LayerNormRow(y, x, gamma, beta []float32, eps float32) (mean, rstd float32) {
	if len(y) != len(x) || len(gamma) != len(x) || len(beta) != len(x) {
		panic(fmt.Sprintf("asm.LayerNormRow: length mismatch y %d, x %d, gamma %d, beta %d", len(y), len(x), len(gamma), len(beta)))
	}
	if len(x) == 0 {
		return 0, float32(1 / math.Sqrt(float64(eps)))
	}
	n := float32(len(x))
	mean = sum(x) / n
	v := sumSqDev(x, mean) / n
	rstd = float32(1 / math.Sqrt(float64(v)+float64(eps)))
	normApply(y, x, gamma, beta, mean, rstd)
	return mean, rstd
}

// LayerNormRowBackward computes the gradients of LayerNormRow for one row
// from the output gradient dy, the input x and the saved mean and rstd.
// dx is overwritten; dgamma and dbeta are accumulated:
//
//	xhat[i] := (x[i]-mean)*rstd; g[i] := dy[i]*gamma[i]
//	for i := range x { dgamma[i] += dy[i]*xhat[i]; dbeta[i] += dy[i] }
//	a := Σ g[i] / C; b := Σ g[i]*xhat[i] / C
//	for i := range x { dx[i] = rstd * (g[i] - a - xhat[i]*b) }
//
// dgamma or dbeta may be nil to skip that gradient (both or neither in the
// SIMD variants' fast path).
func LayerNormRowBackward(dx, dgamma, dbeta, dy, x, gamma []float32, mean, rstd float32) {
	n := len(x)
	if len(dx) != n || len(dy) != n || len(gamma) != n ||
		(dgamma != nil && len(dgamma) != n) || (dbeta != nil && len(dbeta) != n) {
		panic(fmt.Sprintf("asm.LayerNormRowBackward: length mismatch dx %d, dgamma %d, dbeta %d, dy %d, x %d, gamma %d",
			len(dx), len(dgamma), len(dbeta), len(dy), len(x), len(gamma)))
	}
	if n == 0 {
		return
	}
	var sg, sgx float32
	if dgamma != nil && dbeta != nil {
		sg, sgx = normBwdSums(dgamma, dbeta, dy, x, gamma, mean, rstd)
	} else {
		sg, sgx = normBwdSumsGeneric(dgamma, dbeta, dy, x, gamma, mean, rstd)
	}
	inv := 1 / float32(n)
	normBwdDx(dx, dy, x, gamma, mean, rstd, sg*inv, sgx*inv)
}
