package asm

// The small-head path: heads of attnSmallMinQ to attnSmallL queries and at
// most attnSmallL keys (with fewer queries than a column block, at most
// four keys per query) whose width is a multiple of the tile kernel's
// column padding (the main job's heads are 16 floats wide: the image
// tower's 26 tokens, the caption pooler's 16 queries over them, the text
// towers' 13 and 11 tokens and 11 queries over the pooler's 16;
// ViT-B/32's 50 of 64). The tiled path spends most
// of such a head on per-row work: a softmax row of 26 entries is a chain
// of horizontal reductions whose latency no other work hides. Here the
// score tile is stored transposed, keys down and queries across
// (Sᵀ = K·Qᵀ), so that the softmax of sixteen queries runs down sixteen
// columns at once (attnColsFwd, attnColsBwd), and every product reads or
// writes its operands where they lie:
//
//	forward:  Sᵀ = K·Qᵀ;  Pᵀ = softmax down the columns of scale·Sᵀ (+ mask);  out = (Pᵀ)ᵀ·V
//	backward: Pᵀ from lse;  dPᵀ = V·doutᵀ;  D = column sums of Pᵀ∘dPᵀ;
//	          dSᵀ = scale·Pᵀ∘(dPᵀ - D);  dV = Pᵀ·dout;  dK = dSᵀ·Q;  dQ = (dSᵀ)ᵀ·K
//
// Only Q and dout are copied (transposed); K and V are copied only when
// Lk is odd (the kernel's rows come in pairs), and an output only when its
// row count is. D is Σ_j p·dp, which equals dout·out for the out that
// these probabilities make, so the backward never reads out.

// attnSmallL is the longest query or key sequence of the small-head path,
// attnSmallMinQ its fewest queries. The columns come in sixteens (cpad):
// with fewer queries part of every product is padding, which pays while
// the per-row work it saves is as large, so below cpad queries the path
// also needs at most four keys per query. Measured on a Zen 4 core
// (BenchmarkAttentionSmall-like heads, 32×4 heads of 16, µs, tiled →
// small, forward / backward): 13×13 causal 99-106 → 63 / 187-205 →
// 126-137, 11×11 causal 86-87 → 53-64 / 151 → 105-106, 8×8 60-62 → 34 /
// 102-124 → 58-61, 11×26 110 → 83-85 / 236-241 → 145-146, 8×26 80-83 →
// 74-75 / 173-174 → 131-136; with more keys per query the forward loses:
// 8×64 132 → 164-168, 10×64 153-154 → 167-168, 6×26 65-66 → 75-76, 2×26
// 38 → 67-69 (a decoding step, one query, stays tiled).
const (
	attnSmallL    = 64
	attnSmallMinQ = 8
)

// small reports whether the problem takes the small-head path.
func (p *attnProblem) small() bool {
	return attnColsArch(p.lvl) && p.d%p.cpad == 0 && p.lk > 0 &&
		p.lq >= attnSmallMinQ && p.lq <= attnSmallL && p.lk <= attnSmallL &&
		(p.lq >= p.cpad || p.lk <= 4*p.lq)
}

// colOff is the column passes' causal offset: key j is visible to query i
// when j ≤ i + off.
func (p *attnProblem) colOff() int {
	if p.causal {
		return p.lk - p.lq
	}
	return 1 << 30
}

// maskOf returns batch element bi's (Lq, Lk) mask, or nil.
func (p *attnProblem) maskOf(bi int) []float32 {
	if p.mask == nil {
		return nil
	}
	return p.mask[bi*p.maskStride:]
}

// smallScores packs head bh's Qᵀ (D, Lqp) into w.kt and computes the
// transposed scores Sᵀ = K·Qᵀ (Lk rounded up to even rows, Lqp columns)
// into w.s. It returns K as the products read it (in place, or a copy
// with a zero row when Lk is odd) and its row stride.
func (p *attnProblem) smallScores(w *attnScratch, bh int) ([]float32, int) {
	d, lq, lk := p.d, p.lq, p.lk
	lqp, lke := roundUp(lq, p.cpad), roundUp(lk, p.rpad)
	w.head = -1 // w.kt holds Qᵀ: a later forwardBlock must repack
	w.kt = grow(w.kt, d*lqp)
	transposeInto(p.lvl, w.kt, lqp, tail(p.q, p.qs.at(bh, p.h)), p.qs.Row, lq, d, &w.tb)
	k, kr := p.evenRows(&w.kp, tail(p.k, p.ks.at(bh, p.h)), p.ks.Row)
	w.s = grow(w.s, lke*lqp)
	attnGemm(p.lvl, w.s, lqp, k, kr, w.kt, lqp, lke, lqp, d, false)
	return k, kr
}

// evenRows returns head operand x (Lk rows of D, stride xr) as the tile
// products read it: in place when Lk is even, else copied into *buf with a
// zero row after it (the kernel's rows come in pairs); and its row stride.
func (p *attnProblem) evenRows(buf *[]float32, x []float32, xr int) ([]float32, int) {
	lk, d := p.lk, p.d
	if lke := roundUp(lk, p.rpad); lke != lk {
		*buf = packRows(*buf, x, xr, lk, d, lke, d)
		return *buf, d
	}
	return x, xr
}

// smallOut returns where a product of rows rows (the even count that
// rows rounds up to) and d columns may be written: dst itself (row stride
// ld) when rows is even, else w.o; finish copies w.o's rows to dst.
func (p *attnProblem) smallOut(w *attnScratch, dst []float32, ld, rows int) ([]float32, int) {
	if rows%p.rpad == 0 {
		return dst, ld
	}
	w.o = grow(w.o, roundUp(rows, p.rpad)*p.d)
	return w.o, p.d
}

func (p *attnProblem) smallFinish(w *attnScratch, dst []float32, ld, rows int) {
	if rows%p.rpad == 0 {
		return
	}
	for i := range rows {
		copy(dst[i*ld:i*ld+p.d], w.o[i*p.d:(i+1)*p.d])
	}
}

// forwardSmall computes head bh's output and lse on the small-head path.
func (p *attnProblem) forwardSmall(w *attnScratch, bh int) {
	d, lq, lk := p.d, p.lq, p.lk
	lqp := roundUp(lq, p.cpad)
	p.prefetchHead(bh + 1)
	p.smallScores(w, bh)
	var lse []float32
	if p.lse != nil {
		lse = p.lse[bh*lq : (bh+1)*lq]
	}
	attnColsFwd(w.s, lqp, lk, lq, p.colOff(), p.scale, p.maskOf(bh/p.h), lk, lse)
	out, or := tail(p.out, p.os.at(bh, p.h)), p.os.Row
	c, ldc := p.smallOut(w, out, or, lq)
	v := tail(p.v, p.vs.at(bh, p.h))
	attnGemmTArch(p.lvl, c, ldc, w.s, lqp, v, p.vs.Row, roundUp(lq, p.rpad), d, lk, false)
	p.smallFinish(w, out, or, lq)
}

// backwardSmall computes head bh's dq, dk and dv on the small-head path.
func (p *attnProblem) backwardSmall(w *attnScratch, bh int) {
	d, lq, lk := p.d, p.lq, p.lk
	lqp, lke := roundUp(lq, p.cpad), roundUp(lk, p.rpad)
	p.prefetchHeadOut(bh+1, false)
	k, kr := p.smallScores(w, bh)
	// dPᵀ = V·doutᵀ.
	dout, dor := tail(p.dout, p.dos.at(bh, p.h)), p.dos.Row
	w.vt = grow(w.vt, d*lqp)
	transposeInto(p.lvl, w.vt, lqp, dout, dor, lq, d, &w.tb)
	v, vr := p.evenRows(&w.vp, tail(p.v, p.vs.at(bh, p.h)), p.vs.Row)
	w.dp = grow(w.dp, lke*lqp)
	attnGemm(p.lvl, w.dp, lqp, v, vr, w.vt, lqp, lke, lqp, d, false)
	attnColsBwd(w.s, w.dp, lqp, lk, lq, p.colOff(), p.scale, p.maskOf(bh/p.h), lk, p.lse[bh*lq:(bh+1)*lq])
	// dV = Pᵀ·dout and dK = dSᵀ·Q, Lk rows; dQ = (dSᵀ)ᵀ·K, Lq rows.
	dv, dvr := tail(p.dv, p.dvs.at(bh, p.h)), p.dvs.Row
	c, ldc := p.smallOut(w, dv, dvr, lk)
	attnGemm(p.lvl, c, ldc, w.s, lqp, dout, dor, lke, d, lq, false)
	p.smallFinish(w, dv, dvr, lk)
	dk, dkr := tail(p.dk, p.dks.at(bh, p.h)), p.dks.Row
	c, ldc = p.smallOut(w, dk, dkr, lk)
	attnGemm(p.lvl, c, ldc, w.dp, lqp, tail(p.q, p.qs.at(bh, p.h)), p.qs.Row, lke, d, lq, false)
	p.smallFinish(w, dk, dkr, lk)
	dq, dqr := tail(p.dq, p.dqs.at(bh, p.h)), p.dqs.Row
	c, ldc = p.smallOut(w, dq, dqr, lq)
	attnGemmTArch(p.lvl, c, ldc, w.dp, lqp, k, kr, roundUp(lq, p.rpad), d, lk, false)
	p.smallFinish(w, dq, dqr, lq)
}
