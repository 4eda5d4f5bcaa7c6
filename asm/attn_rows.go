package asm

import (
	"fmt"
	"math"
)

// Row passes over an attention score tile (rows of stride ld, row i with
// lim[i] valid entries, the rest padding). Every row of a tile goes to one
// call, which the AVX-512 level runs in one assembly loop (attn_rows_amd64.s);
// the other levels run the row-at-a-time primitives below, whose results
// the assembly reproduces bit for bit.

func checkAttnRows(fn string, ld int, lim []int32, tiles ...[]float32) {
	rows := len(lim)
	for _, n := range lim {
		if int(n) > ld {
			panic(fmt.Sprintf("asm.%s: row limit %d exceeds the row stride %d", fn, n, ld))
		}
	}
	for _, t := range tiles {
		if len(t) < rows*ld {
			panic(fmt.Sprintf("asm.%s: tile of length %d for %d rows of stride %d", fn, len(t), rows, ld))
		}
	}
}

// attnRowsFwd is the forward's softmax pass over one key block: for each
// row i, with x = s[i][:lim[i]],
//
//	m = max(max(x), mIn[i])   (mIn[i] when x is empty)
//	m = -Inf (no visible key): s[i] = 0, mOut[i] = mIn[i], sum[i] = 0
//	otherwise: x = exp(x - m), s[i][lim[i]:ld] = 0, mOut[i] = m, sum[i] = Σ x
func attnRowsFwd(l Level, s []float32, ld int, lim []int32, mIn, mOut, sum []float32) {
	rows := len(lim)
	checkAttnRows("attnRowsFwd", ld, lim, s)
	if len(mIn) < rows || len(mOut) < rows || len(sum) < rows {
		panic(fmt.Sprintf("asm.attnRowsFwd: %d rows, mIn %d, mOut %d, sum %d", rows, len(mIn), len(mOut), len(sum)))
	}
	if rows == 0 || attnRowsFwdArch(l, s, ld, lim, mIn, mOut, sum) {
		return
	}
	attnRowsFwdLoop(s, ld, lim, mIn, mOut, sum)
}

// attnRowsFwdLoop is attnRowsFwd one row at a time.
func attnRowsFwdLoop(s []float32, ld int, lim []int32, mIn, mOut, sum []float32) {
	for i, n := range lim {
		row := s[i*ld : (i+1)*ld]
		mOut[i], sum[i] = mIn[i], 0
		if n <= 0 {
			clear(row)
			continue
		}
		valid := row[:n]
		clear(row[n:])
		mx := vmax(valid)
		if mx <= mIn[i] {
			mx = mIn[i]
		}
		if math.IsInf(float64(mx), -1) { // nothing visible yet
			clear(valid)
			continue
		}
		sum[i] = expSubSum(valid, valid, mx)
		mOut[i] = mx
	}
}

// attnRowsBwd is the backward's pass over the probability and score-
// gradient tiles: for each row i, with n = lim[i],
//
//	p = s[i][:n] = exp(s[i][:n] - lse[i]); dp[i][:n] = p·(dp[i][:n] - dd[i])
//
// and zeros in s[i][n:ld] and dp[i][n:ld] (whole rows when n ≤ 0).
func attnRowsBwd(l Level, s, dp []float32, ld int, lim []int32, lse, dd []float32) {
	rows := len(lim)
	checkAttnRows("attnRowsBwd", ld, lim, s, dp)
	if len(lse) < rows || len(dd) < rows {
		panic(fmt.Sprintf("asm.attnRowsBwd: %d rows, lse %d, dd %d", rows, len(lse), len(dd)))
	}
	if rows == 0 || attnRowsBwdArch(l, s, dp, ld, lim, lse, dd) {
		return
	}
	attnRowsBwdLoop(s, dp, ld, lim, lse, dd)
}

// attnRowsBwdLoop is attnRowsBwd one row at a time.
func attnRowsBwdLoop(s, dp []float32, ld int, lim []int32, lse, dd []float32) {
	for i, n := range lim {
		srow, dprow := s[i*ld:(i+1)*ld], dp[i*ld:(i+1)*ld]
		if n <= 0 {
			clear(srow)
			clear(dprow)
			continue
		}
		valid := srow[:n]
		expSubSum(valid, valid, lse[i])
		clear(srow[n:])
		mulSub(dprow[:n], valid, dprow[:n], dd[i])
		clear(dprow[n:])
	}
}

// attnScaleRows normalises the forward's output rows: for each row i,
// dst[i·ldd:][:d] = src[i·lds:][:d]·(1/ls[i]), or zeros when ls[i] = 0 (a
// query that sees no key).
func attnScaleRows(l Level, dst []float32, ldd int, src []float32, lds int, ls []float32, d int) {
	rows := len(ls)
	if rows == 0 || d == 0 {
		return
	}
	if ldd < d || lds < d || len(dst) < (rows-1)*ldd+d || len(src) < (rows-1)*lds+d {
		panic(fmt.Sprintf("asm.attnScaleRows: %d rows of %d with strides %d, %d overrun dst %d, src %d", rows, d, ldd, lds, len(dst), len(src)))
	}
	if attnScaleRowsArch(l, dst, ldd, src, lds, ls, d) {
		return
	}
	attnScaleRowsLoop(dst, ldd, src, lds, ls, d)
}

// attnScaleRowsLoop is attnScaleRows in Go.
func attnScaleRowsLoop(dst []float32, ldd int, src []float32, lds int, ls []float32, d int) {
	for i, l := range ls {
		row := dst[i*ldd : i*ldd+d]
		if l == 0 {
			clear(row)
			continue
		}
		inv := 1 / l
		for c, x := range src[i*lds : i*lds+d] {
			row[c] = x * inv
		}
	}
}
