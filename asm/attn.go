package asm

import (
	"fmt"
	"math"
)

// Fused multi-head attention.
//
// Layout: q and out are (B, H, Lq, D), k and v are (B, H, Lk, D), all
// contiguous row-major; lse is (B, H, Lq). For batch b, head h, query i and
// key j the score is
//
//	s[i][j] = scale·Σ_c q[b,h,i,c]·k[b,h,j,c] + mask[b·maskBatchStride + i·Lk + j]
//
// where the mask term is omitted when mask is nil. mask is additive, shaped
// (Lq, Lk) per batch element and shared by the heads; -Inf entries remove a
// key. maskBatchStride is the distance between batch elements' masks: Lq·Lk
// for a per-example mask, 0 to share one (Lq, Lk) mask across the batch. A
// (1, Lk) key-padding mask must be expanded to (Lq, Lk) by the caller.
//
// With causal set, query i sees only keys j ≤ i + (Lk - Lq): the causal
// diagonal is aligned to the bottom-right corner, so the last query sees
// every key (the usual convention when Lq queries extend a cache of Lk-Lq
// earlier keys; it is the ordinary lower triangle when Lq == Lk).
//
// A query row whose keys are all removed (by -Inf mask entries or by
// causality) gets a zero output row and lse -Inf, never NaN, and zero
// gradients in the backward.
//
// The forward runs on GOMAXPROCS goroutines over heads (over (head, query
// block) pairs when there are fewer than 2·GOMAXPROCS heads). A worker packs
// its head's Kᵀ and V once, then for a block of attnQBlock queries computes
// the scores of one key block of at most attnKVBlock keys, applies mask and
// causality, and adds the block's contribution to the output, rescaling
// earlier contributions when the running row maximum grows (online
// softmax). With Lk ≤ attnKVBlock there is one key block and no rescaling.
// A forward worker holds one (query block × key block) score tile.
//
// The backward runs over heads, so each worker owns its head's dK and dV
// (no reduction). Per query block it recomputes the probabilities from the
// saved lse and holds the probability and score-gradient tiles (query block
// × Lk) and one transposed copy; nothing (Lq × Lk) is ever materialised.
//
// The products run through one tile kernel, C (+)= A·B on padded row-major
// operands (attnGemm: AVX2, AVX-512 or NEON, else pure Go).
//
// Heads of attnSmallMinQ to attnSmallL queries and at most attnSmallL keys
// (see attnProblem.small) take the small-head path instead where the level
// has its column passes (AVX-512; attn_small.go): transposed score tiles
// whose softmax runs down the columns, one item per head in both
// directions.
//
// A worker starting a head asks for the next head's rows to be brought into
// the cache (prefetchHead), so that a small head's strided rows are not
// fetched one miss at a time while it computes.

// attnQBlock is the number of query rows per tile (a multiple of 4).
const attnQBlock = 32

// attnKVBlock is the number of keys per score tile (a multiple of 16, so of
// every kernel's column padding). It is a variable so that tests can
// exercise the online-softmax rescaling.
var attnKVBlock = 512

func checkAttn(fn string, out, q, k, v, lse []float32, b, h, lq, lk, d int, mask []float32, maskBatchStride int) {
	if b < 0 || h < 0 || lq < 0 || lk < 0 || d < 0 {
		panic(fmt.Sprintf("asm.%s: negative dimension B=%d H=%d Lq=%d Lk=%d D=%d", fn, b, h, lq, lk, d))
	}
	nq, nk := b*h*lq*d, b*h*lk*d
	if len(q) != nq || len(out) != nq || len(k) != nk || len(v) != nk {
		panic(fmt.Sprintf("asm.%s: B=%d H=%d Lq=%d Lk=%d D=%d wants q, out of length %d and k, v of %d; got q %d, out %d, k %d, v %d",
			fn, b, h, lq, lk, d, nq, nk, len(q), len(out), len(k), len(v)))
	}
	if lse != nil && len(lse) != b*h*lq {
		panic(fmt.Sprintf("asm.%s: lse has length %d, want B·H·Lq = %d", fn, len(lse), b*h*lq))
	}
	if mask != nil && b > 0 {
		if maskBatchStride < 0 || len(mask) < (b-1)*maskBatchStride+lq*lk {
			panic(fmt.Sprintf("asm.%s: mask of length %d with batch stride %d is too short for B=%d Lq=%d Lk=%d",
				fn, len(mask), maskBatchStride, b, lq, lk))
		}
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// AttnStrides locate a (B, H, L, D) attention operand stored in any layout
// with unit stride along D: element (b, h, i, c) is at
// b·Batch + h·Head + i·Row + c. The contiguous layout is
// {H·L·D, L·D, D}; heads split from the last axis of a (B, L, H·D) tensor
// are {L·H·D, D, H·D}; q, k and v packed in one (B, L, 3·H·D) projection
// are {L·3HD, D, 3HD} from offsets 0, HD and 2HD.
type AttnStrides struct{ Batch, Head, Row int }

// contiguousAttn is the layout of a contiguous (B, H, L, D) operand.
func contiguousAttn(h, l, d int) AttnStrides { return AttnStrides{h * l * d, l * d, d} }

// at is the offset of head bh (= b·H + h) of an operand with H heads.
func (s AttnStrides) at(bh, h int) int { return bh/h*s.Batch + bh%h*s.Head }

// span is the number of elements an operand of that shape spans.
func (s AttnStrides) span(b, h, l, d int) int {
	if b == 0 || h == 0 || l == 0 || d == 0 {
		return 0
	}
	return (b-1)*s.Batch + (h-1)*s.Head + (l-1)*s.Row + d
}

// tail is s[off:], or nil when off is past the end (an operand with no
// rows, e.g. Lk = 0).
func tail(s []float32, off int) []float32 {
	if off >= len(s) {
		return nil
	}
	return s[off:]
}

// AttnOperands are the tensors of one strided attention call, each with its
// layout (see AttnStrides). Out and the gradients must not overlap
// themselves or each other.
type AttnOperands struct {
	Q, K, V, Out   []float32
	QS, KS, VS, OS AttnStrides
}

func checkAttnStrided(fn string, o *AttnOperands, lse []float32, b, h, lq, lk, d int, mask []float32, maskBatchStride int) {
	if b < 0 || h < 0 || lq < 0 || lk < 0 || d < 0 {
		panic(fmt.Sprintf("asm.%s: negative dimension B=%d H=%d Lq=%d Lk=%d D=%d", fn, b, h, lq, lk, d))
	}
	for _, x := range []struct {
		name string
		s    []float32
		st   AttnStrides
		l    int
	}{{"q", o.Q, o.QS, lq}, {"k", o.K, o.KS, lk}, {"v", o.V, o.VS, lk}, {"out", o.Out, o.OS, lq}} {
		if x.st.Batch < 0 || x.st.Head < 0 || x.st.Row < 0 {
			panic(fmt.Sprintf("asm.%s: negative strides %+v for %s", fn, x.st, x.name))
		}
		if n := x.st.span(b, h, x.l, d); len(x.s) < n {
			panic(fmt.Sprintf("asm.%s: B=%d H=%d Lq=%d Lk=%d D=%d with strides %+v need %d elements of %s, have %d",
				fn, b, h, lq, lk, d, x.st, n, x.name, len(x.s)))
		}
	}
	if lse != nil && len(lse) != b*h*lq {
		panic(fmt.Sprintf("asm.%s: lse has length %d, want B·H·Lq = %d", fn, len(lse), b*h*lq))
	}
	if mask != nil && b > 0 {
		if maskBatchStride < 0 || len(mask) < (b-1)*maskBatchStride+lq*lk {
			panic(fmt.Sprintf("asm.%s: mask of length %d with batch stride %d is too short for B=%d Lq=%d Lk=%d",
				fn, len(mask), maskBatchStride, b, lq, lk))
		}
	}
}

// AttentionForward computes out = softmax(s)·v per head (see the comment
// above for the layout, the score s, masking and causality) and stores each
// row's log-sum-exp log Σ_j exp(s[i][j]) in lse, which AttentionBackward
// needs. lse may be nil when no backward follows. Naively:
//
//	for each b, h, i: p[j] = exp(s[i][j] - lse[i]); out[i] = Σ_j p[j]·v[j]
func AttentionForward(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	checkAttn("AttentionForward", out, q, k, v, lse, b, h, lq, lk, d, mask, maskBatchStride)
	o := AttnOperands{Q: q, K: k, V: v, Out: out,
		QS: contiguousAttn(h, lq, d), KS: contiguousAttn(h, lk, d), VS: contiguousAttn(h, lk, d), OS: contiguousAttn(h, lq, d)}
	attentionForward(&o, lse, b, h, lq, lk, d, scale, causal, mask, maskBatchStride)
}

// AttentionForwardStrided is AttentionForward on operands in any layout
// (see AttnStrides), for example heads read straight out of a packed
// (B, L, 3·H·D) projection and the output written as (B, L, H·D), with no
// transposing copies. lse is (B, H, Lq), contiguous.
func AttentionForwardStrided(o AttnOperands, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	checkAttnStrided("AttentionForwardStrided", &o, lse, b, h, lq, lk, d, mask, maskBatchStride)
	attentionForward(&o, lse, b, h, lq, lk, d, scale, causal, mask, maskBatchStride)
}

func attentionForward(o *AttnOperands, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	if b*h*lq == 0 {
		return
	}
	p := attnProblem{q: o.Q, k: o.K, v: o.V, out: o.Out, lse: lse, b: b, h: h, lq: lq, lk: lk, d: d,
		qs: o.QS, ks: o.KS, vs: o.VS, os: o.OS,
		scale: scale, causal: causal, mask: mask, maskStride: maskBatchStride, lvl: level}
	p.rpad, p.cpad = attnPad(level)
	if p.small() {
		parallelItems(b*h, func(w *attnScratch, bh int) { p.forwardSmall(w, bh) })
		return
	}
	nqb := (lq + attnQBlock - 1) / attnQBlock
	if b*h >= 2*procs() {
		// Enough heads to share out: one item per head, so that each head's
		// K and V are packed once.
		parallelItems(b*h, func(w *attnScratch, bh int) {
			for qb := range nqb {
				p.forwardBlock(w, bh, qb*attnQBlock)
			}
		})
		return
	}
	parallelItems(b*h*nqb, func(w *attnScratch, item int) {
		p.forwardBlock(w, item/nqb, item%nqb*attnQBlock)
	})
}

// AttentionBackward computes the gradients dq, dk and dv (overwritten, same
// layouts as q, k and v) of AttentionForward from the output gradient dout,
// the forward's inputs, its output out and its lse. It recomputes the
// probabilities p from q, k and lse, then per head:
//
//	D[i] = Σ_c dout[i][c]·out[i][c]
//	dv[j] = Σ_i p[i][j]·dout[i]
//	ds[i][j] = p[i][j]·(Σ_c dout[i][c]·v[j][c] - D[i])
//	dq[i] = scale·Σ_j ds[i][j]·k[j];  dk[j] = scale·Σ_i ds[i][j]·q[i]
func AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	checkAttn("AttentionBackward", out, q, k, v, lse, b, h, lq, lk, d, mask, maskBatchStride)
	if len(dq) != len(q) || len(dk) != len(k) || len(dv) != len(v) || len(dout) != len(out) || len(lse) != b*h*lq {
		panic(fmt.Sprintf("asm.AttentionBackward: gradient lengths dq %d, dk %d, dv %d, dout %d, lse %d do not match q %d, k %d, v %d, out %d, B·H·Lq %d",
			len(dq), len(dk), len(dv), len(dout), len(lse), len(q), len(k), len(v), len(out), b*h*lq))
	}
	qs, ks := contiguousAttn(h, lq, d), contiguousAttn(h, lk, d)
	attentionBackward(&AttnOperands{Q: q, K: k, V: v, Out: out, QS: qs, KS: ks, VS: ks, OS: qs},
		&AttnOperands{Q: dq, K: dk, V: dv, Out: dout, QS: qs, KS: ks, VS: ks, OS: qs},
		lse, b, h, lq, lk, d, scale, causal, mask, maskBatchStride)
}

// AttentionBackwardStrided is AttentionBackward on operands in any layout:
// o holds q, k, v and the forward's out, g holds dq, dk, dv (overwritten
// at the positions their layouts address, nothing else) in g.Q, g.K, g.V
// and dout in g.Out.
func AttentionBackwardStrided(o, g AttnOperands, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	checkAttnStrided("AttentionBackwardStrided", &o, lse, b, h, lq, lk, d, mask, maskBatchStride)
	checkAttnStrided("AttentionBackwardStrided (gradients)", &g, nil, b, h, lq, lk, d, nil, 0)
	if len(lse) != b*h*lq {
		panic(fmt.Sprintf("asm.AttentionBackwardStrided: lse has length %d, want B·H·Lq = %d", len(lse), b*h*lq))
	}
	attentionBackward(&o, &g, lse, b, h, lq, lk, d, scale, causal, mask, maskBatchStride)
}

func attentionBackward(o, g *AttnOperands, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32, maskBatchStride int) {
	if b*h == 0 {
		return
	}
	if lq == 0 {
		for bh := range b * h {
			for j := range lk {
				clear(g.K[g.KS.at(bh, h)+j*g.KS.Row:][:d])
				clear(g.V[g.VS.at(bh, h)+j*g.VS.Row:][:d])
			}
		}
		return
	}
	p := attnProblem{q: o.Q, k: o.K, v: o.V, out: o.Out, lse: lse, b: b, h: h, lq: lq, lk: lk, d: d,
		qs: o.QS, ks: o.KS, vs: o.VS, os: o.OS,
		scale: scale, causal: causal, mask: mask, maskStride: maskBatchStride, lvl: level,
		dq: g.Q, dk: g.K, dv: g.V, dout: g.Out, dqs: g.QS, dks: g.KS, dvs: g.VS, dos: g.OS}
	p.rpad, p.cpad = attnPad(level)
	if p.small() {
		parallelItems(b*h, func(w *attnScratch, bh int) { p.backwardSmall(w, bh) })
		return
	}
	parallelItems(b*h, func(w *attnScratch, item int) {
		p.backwardHead(w, item)
	})
}

type attnProblem struct {
	q, k, v, out, lse []float32
	dq, dk, dv, dout  []float32
	b, h, lq, lk, d   int
	qs, ks, vs, os    AttnStrides // layouts of q, k, v, out
	dqs, dks, dvs     AttnStrides // layouts of dq, dk, dv
	dos               AttnStrides // layout of dout
	scale             float32
	causal            bool
	mask              []float32
	maskStride        int
	lvl               Level
	rpad, cpad        int // row and column multiples the tile kernel needs
}

// attnScratch is one worker's memory, reused across items and calls.
type attnScratch struct {
	head     int       // head whose K/V are packed in kt, vp (-1: none)
	kt       []float32 // Kᵀ: (D, Lkp)
	vp       []float32 // V: (Lkp, Dp), zero padded
	vt       []float32 // Vᵀ: (D, Lkp) (backward)
	kp       []float32 // K: (Lkp, Dp) (backward)
	qs       []float32 // scale·Q block: (MBp, Dp)
	s        []float32 // score / probability tile: (MBp, KBp)
	o        []float32 // output accumulator: (MBp, Dp)
	dp       []float32 // dP / dS tile (backward)
	tr       []float32 // transposed tile (backward)
	tb       []float32 // transposeInto's last block of rows
	dop      []float32 // dout block (MBp, Dp)
	dka, dva []float32 // dK, dV accumulators (Lkp, Dp)
	m, l, dd []float32 // per-row max, sum, D
	mb, sb   []float32 // per-row max and sum of one key block
	ls       []float32 // per-row lse of a query block (backward)
	lim      []int32   // per-row visible keys of a tile
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// attnFree holds idle worker scratch across calls and collections.
var attnFree freeList[attnScratch]

func getScratch() *attnScratch {
	w := attnFree.get()
	w.head = -1
	return w
}

func putScratch(w *attnScratch) { attnFree.put(w) }

// parallelItems runs f on items 0..n-1 over up to GOMAXPROCS goroutines,
// each with its own scratch, the items claimed one at a time as goroutines
// become free (ParallelFor).
func parallelItems(n int, f func(w *attnScratch, item int)) {
	ParallelFor(n, 1, 0, func(_, lo, hi int) {
		w := getScratch()
		for i := lo; i < hi; i++ {
			f(w, i)
		}
		putScratch(w)
	})
}

// keyLimit returns the number of keys query row qi may see.
func (p *attnProblem) keyLimit(qi int) int {
	if !p.causal {
		return p.lk
	}
	return max(0, min(p.lk, qi+p.lk-p.lq+1))
}

// maskRow returns the mask row of batch element bi, query qi, or nil.
func (p *attnProblem) maskRow(bi, qi int) []float32 {
	if p.mask == nil {
		return nil
	}
	o := bi*p.maskStride + qi*p.lk
	return p.mask[o : o+p.lk]
}

// packKV packs head bh's scale·Kᵀ (D, Lkp) into w.kt and, unless the
// products read V in place (inPlace), V (Lkp, Dp) into w.vp, zero padded.
// Folding the scale into K once per head spares scaling every query block.
func (p *attnProblem) packKV(w *attnScratch, bh int) {
	p.packKt(w, bh)
	if !p.inPlace() {
		v, vr := tail(p.v, p.vs.at(bh, p.h)), p.vs.Row
		w.vp = packRows(w.vp, v, vr, p.lk, p.d, roundUp(p.lk, p.cpad), roundUp(p.d, p.cpad))
	}
	w.head = bh
}

// inPlace reports whether the tile products may read the (L, D) operands
// (q, v, dout) where they lie instead of from padded copies: when D needs
// no column padding. Row padding is needed too when a query block's rows
// are not a multiple of rpad (see inPlaceRows).
func (p *attnProblem) inPlace() bool { return p.d%p.cpad == 0 }

// inPlaceRows reports whether a query block of mb rows may be read in place.
func (p *attnProblem) inPlaceRows(mb int) bool { return p.inPlace() && mb%p.rpad == 0 }

// packKt packs head bh's scale·Kᵀ (D, Lkp) into w.kt, zero padded.
func (p *attnProblem) packKt(w *attnScratch, bh int) {
	d, lk := p.d, p.lk
	lkp := roundUp(lk, p.cpad)
	w.kt = grow(w.kt, d*lkp)
	k, kr := tail(p.k, p.ks.at(bh, p.h)), p.ks.Row
	transposeInto(p.lvl, w.kt, lkp, k, kr, lk, d, &w.tb)
	scale(p.scale, w.kt)
}

// packRows copies rows×cols of src (row stride lds) into dst resized to
// rowsP×colsP (row stride colsP), zeroing the padding.
func packRows(dst, src []float32, lds, rows, cols, rowsP, colsP int) []float32 {
	dst = grow(dst, rowsP*colsP)
	for j := range rows {
		copy(dst[j*colsP:j*colsP+cols], src[j*lds:j*lds+cols])
		clear(dst[j*colsP+cols : (j+1)*colsP])
	}
	clear(dst[rows*colsP:])
	return dst
}

// transposeInto stores the transpose of the (rows, cols) matrix src (row
// stride lds) into dst with row stride ldd, zeroing dst columns rows..ldd.
// With tmp non-nil, a partial last block of rows goes through *tmp (grown
// as needed), zero-padded to a whole block.
// Blocks of the GEMM kernel's transposed-B packing (8×8 on AVX2, 4×4 on
// NEON) do the bulk at SIMD levels; on AVX512, where cols and ldd are
// multiples of 16 (the attention's heads of 16 to 64 floats), 16×16
// blocks in registers do all of it (transpose16).
func transposeInto(l Level, dst []float32, ldd int, src []float32, lds, rows, cols int, tmp *[]float32) {
	if cols == 0 || ldd == 0 {
		return
	}
	if transpose16(l, dst, ldd, src, lds, rows, cols) {
		return
	}
	_ = dst[(cols-1)*ldd+ldd-1]
	r := 0
	zeroFrom, wide := rows, 0 // dst columns below wide are zero from row zeroFrom on
	if kn := archGemmKernel(l); kn != nil && kn.packBTAsm != nil && cols >= kn.bt && rows >= kn.bt {
		bt := kn.bt
		cb := cols / bt
		for ; r+bt <= rows; r += bt {
			_ = src[(r+bt-1)*lds+cb*bt-1]
			kn.packBTAsm(&dst[r], &src[r*lds], lds, ldd, cb)
			for j := r; j < r+bt; j++ {
				for c := cb * bt; c < cols; c++ {
					dst[c*ldd+j] = src[j*lds+c]
				}
			}
		}
		if w := cb * bt; tmp != nil && r < rows && r+bt <= ldd {
			// The last rows-r rows, zero-padded to a whole block, which
			// also writes the padding of dst up to row r+bt.
			*tmp = grow(*tmp, bt*w)
			t := *tmp
			for j := r; j < rows; j++ {
				copy(t[(j-r)*w:(j-r+1)*w], src[j*lds:j*lds+w])
				for c := w; c < cols; c++ {
					dst[c*ldd+j] = src[j*lds+c]
				}
			}
			clear(t[(rows-r)*w : bt*w])
			kn.packBTAsm(&dst[r], &t[0], w, ldd, cb)
			zeroFrom, wide = r+bt, w
			r = rows
		}
	}
	for ; r+4 <= rows; r += 4 { // four source rows at a time: 16-byte runs in dst
		s0 := src[r*lds : r*lds+cols]
		s1 := src[(r+1)*lds : (r+1)*lds+cols]
		s2 := src[(r+2)*lds : (r+2)*lds+cols]
		s3 := src[(r+3)*lds : (r+3)*lds+cols]
		for c := range s0 {
			d := dst[c*ldd+r : c*ldd+r+4]
			d[0], d[1], d[2], d[3] = s0[c], s1[c], s2[c], s3[c]
		}
	}
	for ; r < rows; r++ {
		srow := src[r*lds : r*lds+cols]
		for c, x := range srow {
			dst[c*ldd+r] = x
		}
	}
	if rows < ldd {
		c0 := 0
		if zeroFrom >= ldd {
			c0 = wide // the padded block zeroed these columns to the end
		}
		for c := c0; c < cols; c++ {
			from := rows
			if c < wide {
				from = zeroFrom
			}
			clear(dst[c*ldd+from : c*ldd+ldd])
		}
	}
}

// loadQ returns q rows [q0, q0+mb) of head bh as an (MBp, Dp) operand and
// its row stride: in place when it may be (inPlaceRows), else copied into
// w.qs, zero padded.
func (p *attnProblem) loadQ(w *attnScratch, bh, q0, mb, mbp int) ([]float32, int) {
	q := tail(p.q, p.qs.at(bh, p.h)+q0*p.qs.Row)
	if p.inPlaceRows(mb) {
		return q, p.qs.Row
	}
	dp := roundUp(p.d, p.cpad)
	w.qs = packRows(w.qs, q, p.qs.Row, mb, p.d, mbp, dp)
	return w.qs, dp
}

// forwardBlock computes output rows [q0, q0+attnQBlock) of head bh.
func (p *attnProblem) forwardBlock(w *attnScratch, bh, q0 int) {
	d, lk := p.d, p.lk
	dp := roundUp(d, p.cpad)
	bi := bh / p.h
	mb := min(attnQBlock, p.lq-q0)
	mbp := roundUp(mb, p.rpad)
	if w.head != bh {
		p.prefetchHead(bh + 1)
		p.packKV(w, bh)
	}
	lkp := roundUp(lk, p.cpad)
	qa, lda := p.loadQ(w, bh, q0, mb, mbp)
	kb := min(attnKVBlock, lkp)
	w.s = grow(w.s, mbp*kb)
	w.o = grow(w.o, mbp*dp)
	w.m = grow(w.m, mbp)
	w.l = grow(w.l, mbp)
	for i := range mbp {
		w.m[i] = float32(math.Inf(-1))
		w.l[i] = 0
	}
	// Keys past the last one any row of this block may see are skipped.
	kEnd := p.keyLimit(q0 + mb - 1)
	if kEnd <= 0 {
		clear(w.o)
	}
	w.lim = growInt32(w.lim, mbp)
	w.mb = grow(w.mb, mbp)
	w.sb = grow(w.sb, mbp)
	for i := mb; i < mbp; i++ {
		w.lim[i] = 0 // padding rows: cleared by the row pass
	}
	for j0 := 0; j0 < kEnd; j0 += kb {
		n := min(kb, lkp-j0) // padded tile width (multiple of cpad)
		attnGemm(p.lvl, w.s, n, qa, lda, w.kt[j0:], lkp, mbp, n, d, false)
		for i := range mb {
			lim := max(0, min(p.keyLimit(q0+i), j0+n)-j0) // valid keys in this tile
			w.lim[i] = int32(lim)
			if lim == 0 {
				continue
			}
			if mr := p.maskRow(bi, q0+i); mr != nil {
				valid := w.s[i*n : i*n+lim]
				add(valid, valid, mr[j0:j0+lim])
			}
		}
		// Softmax numerators of every row against the running maxima: the
		// block's row maxima in w.mb and sums in w.sb.
		attnRowsFwd(p.lvl, w.s[:mbp*n], n, w.lim[:mbp], w.m[:mbp], w.mb, w.sb)
		for i := range mb {
			mx, mOld := w.mb[i], w.m[i]
			if mx != mOld && w.l[i] != 0 {
				alpha := expf(mOld - mx)
				w.l[i] *= alpha
				scale(alpha, w.o[i*dp:(i+1)*dp])
			}
			w.m[i] = mx
			w.l[i] += w.sb[i]
		}
		// The first key block sets the output accumulator, later ones add.
		if p.inPlace() {
			// V where it lies: only its lk - j0 real rows (the padding
			// rows of the copy would add zero products).
			vr := p.vs.Row
			v := tail(p.v, p.vs.at(bh, p.h)+j0*vr)
			attnGemm(p.lvl, w.o, dp, w.s, n, v, vr, mbp, dp, min(n, lk-j0), j0 > 0)
		} else {
			attnGemm(p.lvl, w.o, dp, w.s, n, w.vp[j0*dp:], dp, mbp, dp, n, j0 > 0)
		}
	}
	out, or := tail(p.out, p.os.at(bh, p.h)+q0*p.os.Row), p.os.Row
	attnScaleRows(p.lvl, out, or, w.o, dp, w.l[:mb], d)
	if p.lse != nil {
		for i, l := range w.l[:mb] {
			if l == 0 {
				p.lse[bh*p.lq+q0+i] = float32(math.Inf(-1))
			} else {
				p.lse[bh*p.lq+q0+i] = w.m[i] + float32(math.Log(float64(l)))
			}
		}
	}
}

// backwardHead computes dq, dk and dv of head bh.
func (p *attnProblem) backwardHead(w *attnScratch, bh int) {
	d, lk, lq := p.d, p.lk, p.lq
	dp, lkp := roundUp(d, p.cpad), roundUp(lk, p.cpad)
	bi := bh / p.h
	p.prefetchHead(bh + 1)
	p.packKt(w, bh)
	w.head = -1 // kt is reused below; do not let a forward trust it
	k, kr := tail(p.k, p.ks.at(bh, p.h)), p.ks.Row
	v, vr := tail(p.v, p.vs.at(bh, p.h)), p.vs.Row
	w.vt = grow(w.vt, d*lkp)
	transposeInto(p.lvl, w.vt, lkp, v, vr, lk, d, &w.tb)
	w.kp = packRows(w.kp, k, kr, lk, d, lkp, dp)
	scale(p.scale, w.kp) // dQ = dS·(scale·K)
	w.dka = grow(w.dka, lkp*dp)
	w.dva = grow(w.dva, lkp*dp)
	// Without causality every query block writes all Lkp rows of dK and dV,
	// and the first one overwrites them; with it, early blocks reach fewer
	// keys, so start from zero.
	first := !p.causal
	if p.causal {
		clear(w.dka)
		clear(w.dva)
	}
	const mbMax = attnQBlock
	w.s = grow(w.s, mbMax*lkp)
	w.dp = grow(w.dp, mbMax*lkp)
	w.o = grow(w.o, mbMax*dp)
	w.dop = grow(w.dop, mbMax*dp)
	w.dd = grow(w.dd, mbMax)
	for q0 := 0; q0 < lq; q0 += mbMax {
		mb := min(mbMax, lq-q0)
		mbp := roundUp(mb, p.rpad)
		qa, qlda := p.loadQ(w, bh, q0, mb, mbp)
		// dout block, padded, and D = rowsum(dout∘out).
		dout, dor := tail(p.dout, p.dos.at(bh, p.h)+q0*p.dos.Row), p.dos.Row
		out, or := tail(p.out, p.os.at(bh, p.h)+q0*p.os.Row), p.os.Row
		dq, dqr := tail(p.dq, p.dqs.at(bh, p.h)+q0*p.dqs.Row), p.dqs.Row
		dop, dopl := dout, dor
		if !p.inPlaceRows(mb) {
			w.dop = packRows(w.dop[:cap(w.dop)], dout, dor, mb, d, mbp, dp)
			dop, dopl = w.dop, dp
		}
		for i := range mb {
			w.dd[i] = dot(dout[i*dor:i*dor+d], out[i*or:i*or+d])
		}
		kEnd := p.keyLimit(q0 + mb - 1)
		if kEnd == 0 {
			for i := range mb {
				clear(dq[i*dqr : i*dqr+d])
			}
			continue
		}
		n := roundUp(kEnd, p.cpad) // tile width
		s, dps := w.s[:mbp*n], w.dp[:mbp*n]
		attnGemm(p.lvl, s, n, qa, qlda, w.kt, lkp, mbp, n, d, false)
		attnGemm(p.lvl, dps, n, dop, dopl, w.vt, lkp, mbp, n, d, false)
		w.lim = growInt32(w.lim, mbp)
		w.ls = grow(w.ls, mbp)
		for i := range mbp {
			lim := 0
			var lse float32
			if i < mb {
				lim = p.keyLimit(q0 + i)
				lse = p.lse[bh*lq+q0+i]
				if math.IsInf(float64(lse), -1) {
					lim = 0
				}
			}
			w.lim[i], w.ls[i] = int32(lim), lse
			if lim == 0 {
				continue
			}
			if mr := p.maskRow(bi, q0+i); mr != nil {
				valid := s[i*n : i*n+lim]
				add(valid, valid, mr[:lim])
			}
		}
		// p = exp(s - lse); ds = p∘(dp - D).
		attnRowsBwd(p.lvl, s, dps, n, w.lim, w.ls, w.dd)
		// dV += Pᵀ·dout; dK += dSᵀ·Q (scaled at the end); dQ = dS·(scale·K).
		w.tr = attnGemmT(p.lvl, w.dva, dp, s, n, dop, dopl, n, dp, mbp, !first, w.tr)
		w.tr = attnGemmT(p.lvl, w.dka, dp, dps, n, qa, qlda, n, dp, mbp, !first, w.tr)
		first = false
		if p.inPlaceRows(mb) {
			attnGemm(p.lvl, dq, dqr, dps, n, w.kp, dp, mbp, dp, n, false)
			continue
		}
		o := w.o[:mbp*dp]
		attnGemm(p.lvl, o, dp, dps, n, w.kp, dp, mbp, dp, n, false)
		for i := range mb {
			copy(dq[i*dqr:i*dqr+d], o[i*dp:i*dp+d])
		}
	}
	dk, dkr := tail(p.dk, p.dks.at(bh, p.h)), p.dks.Row
	dv, dvr := tail(p.dv, p.dvs.at(bh, p.h)), p.dvs.Row
	scale(p.scale, w.dka[:lk*dp]) // dK = scale·dSᵀ·Q
	for j := range lk {
		copy(dk[j*dkr:j*dkr+d], w.dka[j*dp:j*dp+d])
		copy(dv[j*dvr:j*dvr+d], w.dva[j*dp:j*dp+d])
	}
}

// prefetchRowsOf asks for rows rows of d floats, stride apart, of s from
// offset off to be brought into the cache (when off is in range).
func prefetchRowsOf(s []float32, off, stride, d, rows int) {
	if off < len(s) && rows > 0 && d > 0 {
		prefetchRows(&s[off], stride, d, rows)
	}
}

// prefetchHead asks for head bh's operands to be brought into the cache:
// q, k, v and out, and in the backward dout and the rows of dq, dk and dv
// it writes (the forward's problem has none of these). A worker calls it
// for the next head as it starts one: in training the backward reads
// activations the forward wrote long before, and a small head (the main
// job's are 26 rows of 16 floats) is over before the hardware prefetchers
// catch up with its strided rows.
func (p *attnProblem) prefetchHead(bh int) { p.prefetchHeadOut(bh, true) }

// prefetchHeadOut is prefetchHead, leaving out the rows of out unless
// withOut (the small-head backward never reads them).
func (p *attnProblem) prefetchHeadOut(bh int, withOut bool) {
	if bh >= p.b*p.h {
		return
	}
	h, d := p.h, p.d
	prefetchRowsOf(p.k, p.ks.at(bh, h), p.ks.Row, d, p.lk)
	prefetchRowsOf(p.v, p.vs.at(bh, h), p.vs.Row, d, p.lk)
	prefetchRowsOf(p.q, p.qs.at(bh, h), p.qs.Row, d, p.lq)
	if withOut {
		prefetchRowsOf(p.out, p.os.at(bh, h), p.os.Row, d, p.lq)
	}
	prefetchRowsOf(p.dout, p.dos.at(bh, h), p.dos.Row, d, p.lq)
	prefetchRowsOf(p.dq, p.dqs.at(bh, h), p.dqs.Row, d, p.lq)
	prefetchRowsOf(p.dk, p.dks.at(bh, h), p.dks.Row, d, p.lk)
	prefetchRowsOf(p.dv, p.dvs.at(bh, h), p.dvs.Row, d, p.lk)
}
