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

// LayerNormRows is LayerNormRow over rows rows of length n: row r of x
// (x[r·n:(r+1)·n]) into the same row of y, its statistics into mean[r] and
// rstd[r]. The results are those of LayerNormRow row by row, bit for bit;
// where the level allows, one assembly loop runs every row.
func LayerNormRows(y, mean, rstd, x, gamma, beta []float32, rows, n int, eps float32) {
	if rows < 0 || n < 0 || len(y) < rows*n || len(x) < rows*n || len(mean) < rows || len(rstd) < rows || len(gamma) != n || len(beta) != n {
		panic(fmt.Sprintf("asm.LayerNormRows: %d rows of %d: y %d, x %d, mean %d, rstd %d, gamma %d, beta %d",
			rows, n, len(y), len(x), len(mean), len(rstd), len(gamma), len(beta)))
	}
	if rows == 0 || layerNormRowsArch(y, mean, rstd, x, gamma, beta, rows, n, eps) {
		return
	}
	for r := range rows {
		mean[r], rstd[r] = LayerNormRow(y[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, beta, eps)
	}
}

// LayerNormRowsBackward is LayerNormRowBackward over rows rows of length n
// with the statistics LayerNormRows returned: each row's dgamma and dbeta
// terms are added to dgamma and dbeta (length n), and its dx row is added
// to dx's row (dx nil: not computed). tmp (length ≥ n) is scratch. The
// results are those of LayerNormRowBackward into tmp followed by
// Axpy(1, tmp, dx row), row by row, bit for bit.
func LayerNormRowsBackward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd []float32, rows, n int, tmp []float32) {
	if rows < 0 || n < 0 || (dx != nil && len(dx) < rows*n) || len(dy) < rows*n || len(x) < rows*n || len(mean) < rows || len(rstd) < rows ||
		len(gamma) != n || len(dgamma) != n || len(dbeta) != n || len(tmp) < n {
		panic(fmt.Sprintf("asm.LayerNormRowsBackward: %d rows of %d: dx %d, dy %d, x %d, mean %d, rstd %d, gamma %d, dgamma %d, dbeta %d, tmp %d",
			rows, n, len(dx), len(dy), len(x), len(mean), len(rstd), len(gamma), len(dgamma), len(dbeta), len(tmp)))
	}
	if rows == 0 || dx != nil && layerNormRowsBwdArch(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, rows, n) {
		return
	}
	t := tmp[:n]
	for r := range rows {
		LayerNormRowBackward(t, dgamma, dbeta, dy[r*n:(r+1)*n], x[r*n:(r+1)*n], gamma, mean[r], rstd[r])
		if dx != nil {
			Axpy(1, t, dx[r*n:(r+1)*n])
		}
	}
}
