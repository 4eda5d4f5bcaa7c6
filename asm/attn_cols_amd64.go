//go:build !purego

package asm

// attnColsArch reports whether level l has the column passes of the
// small-head attention path (attn_small.go).
func attnColsArch(l Level) bool { return l == AVX512 }

// attnColsFwd runs attnColsFwdAVX512 (see attn_cols_amd64.s) on the
// (rows, ld) tile s; mask is nil or starts at the batch element's
// mask[0][0], with rows mstride apart; lse is nil or gets lq values.
func attnColsFwd(s []float32, ld, rows, lq, off int, scale float32, mask []float32, mstride int, lse []float32) {
	_ = s[rows*ld-1]
	var mp, lp *float32
	if mask != nil {
		_ = mask[(lq-1)*mstride+rows-1]
		mp = &mask[0]
	}
	if lse != nil {
		_ = lse[lq-1]
		lp = &lse[0]
	}
	attnColsFwdAVX512(&s[0], ld, rows, lq, off, scale, mp, mstride, lp)
}

// attnColsBwd runs attnColsBwdAVX512 on the (rows, ld) tiles s and dp
// with the lq values of lse.
func attnColsBwd(s, dp []float32, ld, rows, lq, off int, scale float32, mask []float32, mstride int, lse []float32) {
	_, _, _ = s[rows*ld-1], dp[rows*ld-1], lse[lq-1]
	var mp *float32
	if mask != nil {
		_ = mask[(lq-1)*mstride+rows-1]
		mp = &mask[0]
	}
	attnColsBwdAVX512(&s[0], &dp[0], ld, rows, lq, off, scale, mp, mstride, &lse[0])
}

//go:noescape
func attnColsFwdAVX512(s *float32, ld, rows, lq, off int, scale float32, mask *float32, mstride int, lse *float32)

//go:noescape
func attnColsBwdAVX512(s, dp *float32, ld, rows, lq, off int, scale float32, mask *float32, mstride int, lse *float32)
