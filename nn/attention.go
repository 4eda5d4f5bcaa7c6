package nn

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// MultiheadAttention follows torch.nn.MultiheadAttention's parameter
// layout (batch first): a packed InProjWeight (3W, W) when keys and values
// have the query's width, otherwise separate QProjWeight (W, W),
// KProjWeight (W, Wkv) and VProjWeight (W, Wkv); InProjBias (3W) packed in
// both cases; OutProj (W → W). The scale is 1/sqrt(W/Heads).
//
// The layer runs a whole sequence (Forward), or, for decoding, one new
// position at a time against cached keys and values (Step, StepCross):
// the projections, the output projection and their weights (float32 or
// bfloat16: tensor.Linear multiplies with either) are the same in both.
type MultiheadAttention struct {
	InProjWeight *tensor.Tensor // (3W, W), or nil when separate
	QProjWeight  *tensor.Tensor // (W, W), separate layout only
	KProjWeight  *tensor.Tensor // (W, Wkv)
	VProjWeight  *tensor.Tensor // (W, Wkv)
	InProjBias   *tensor.Tensor // (3W)
	OutProj      *Linear
	Heads        int
}

// NewMultiheadAttention returns zeroed attention with model width w and
// key/value width kv (kv == w gives the packed layout).
func NewMultiheadAttention(w, kv, heads int) *MultiheadAttention {
	if heads <= 0 || w%heads != 0 {
		panic(fmt.Sprintf("nn: MultiheadAttention: width %d not divisible by %d heads", w, heads))
	}
	m := &MultiheadAttention{InProjBias: tensor.NewParam("in_proj_bias", 3*w), OutProj: NewLinear(w, w, true), Heads: heads}
	if kv == w {
		m.InProjWeight = tensor.NewParam("in_proj_weight", 3*w, w)
	} else {
		m.QProjWeight = tensor.NewParam("q_proj_weight", w, w)
		m.KProjWeight = tensor.NewParam("k_proj_weight", w, kv)
		m.VProjWeight = tensor.NewParam("v_proj_weight", w, kv)
	}
	return m
}

// Width returns the model width W.
func (m *MultiheadAttention) Width() int { return m.InProjBias.Dim(0) / 3 }

// Params lists the parameters under nn.MultiheadAttention's names.
func (m *MultiheadAttention) Params() []Param {
	return Collect("in_proj_weight", m.InProjWeight, "q_proj_weight", m.QProjWeight,
		"k_proj_weight", m.KProjWeight, "v_proj_weight", m.VProjWeight,
		"in_proj_bias", m.InProjBias, "out_proj", m.OutProj)
}

// proj returns the weight (W, ·) and bias (W) of projection i (0 query,
// 1 key, 2 value), or of projections i and i+1 together when n is 2
// (packed weights only).
func (m *MultiheadAttention) proj(i, n int) (w, b *tensor.Tensor) {
	d := m.Width()
	b = tensor.Rows(m.InProjBias, i*d, (i+n)*d)
	if m.InProjWeight != nil {
		return tensor.Rows(m.InProjWeight, i*d, (i+n)*d), b
	}
	return []*tensor.Tensor{m.QProjWeight, m.KProjWeight, m.VProjWeight}[i], b
}

// projectQ returns the queries of xq (B, L, W): (B, L, W), heads side by
// side.
func (m *MultiheadAttention) projectQ(xq *tensor.Tensor) *tensor.Tensor {
	w, b := m.proj(0, 1)
	return tensor.Linear(xq, w, b)
}

// Forward attends from xq (B, Lq, W) to xkv (B, Lk, Wkv). mask (B, Lq, Lk)
// is additive or nil; causal hides later keys. When xq belongs to a
// no-grad scope, so does the computation from xkv.
//
// The heads are read from the projections and written to the merged
// output in place (tensor.AttentionHeads): no head-splitting copies.
func (m *MultiheadAttention) Forward(xq, xkv, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	if xkv != xq {
		xkv = tensor.ScopeOf(xq).Use(xkv)
	}
	if xq == xkv && m.InProjWeight != nil {
		// Self-attention: one packed projection, q, k, v side by side.
		w := m.Width()
		qkv := tensor.Linear(xq, m.InProjWeight, m.InProjBias) // (B, L, 3W)
		o := tensor.AttentionHeads(qkv, 0, qkv, w, qkv, 2*w, m.Heads, w, mask, causal, 0)
		tensor.Drop(qkv)
		return m.output(o)
	}
	q := m.projectQ(xq)
	o := m.attend(q, xkv, mask, causal)
	tensor.Drop(q)
	return m.output(o)
}

// forwardLast is the last query row of self-attention over x (B, L, W):
// the last position's query attends to the keys and values of every
// position, mask (B, 1, L) additive or nil; the result is (B, 1, W), the
// last row of Forward(x, x, mask', causal) when mask is the last row of
// mask' (the last query sees every key, causal or not). Only the last
// row's query and output projections are computed.
func (m *MultiheadAttention) forwardLast(x, mask *tensor.Tensor) *tensor.Tensor {
	l := x.Dim(1)
	xq := tensor.Slice(x, 1, l-1, l)
	q := m.projectQ(xq)
	tensor.Drop(xq)
	o := m.attend(q, x, mask, false)
	tensor.Drop(q)
	return m.output(o)
}

// attend projects the keys and values of xkv (B, Lk, Wkv) and returns the
// attention of queries q (B, Lq, W) to them, heads merged (before the
// output projection).
func (m *MultiheadAttention) attend(q, xkv, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	w := m.Width()
	if m.InProjWeight != nil {
		// Packed weights: keys and values from one (B, Lk, 2W) projection.
		wkv, bkv := m.proj(1, 2)
		kv := tensor.Linear(xkv, wkv, bkv)
		o := tensor.AttentionHeads(q, 0, kv, 0, kv, w, m.Heads, w, mask, causal, 0)
		tensor.Drop(kv)
		return o
	}
	wk, bk := m.proj(1, 1)
	wv, bv := m.proj(2, 1)
	k, v := tensor.Linear(xkv, wk, bk), tensor.Linear(xkv, wv, bv)
	o := tensor.AttentionHeads(q, 0, k, 0, v, 0, m.Heads, w, mask, causal, 0)
	tensor.Drop(k, v)
	return o
}

// output applies the output projection to attention output o (heads
// merged) and drops o.
func (m *MultiheadAttention) output(o *tensor.Tensor) *tensor.Tensor {
	out := m.OutProj.Forward(o)
	tensor.Drop(o)
	return out
}

// NewCache returns an empty key/value cache for Step: rows rows (captions
// or beams) of up to maxLen positions.
func (m *MultiheadAttention) NewCache(rows, maxLen int) *tensor.KV {
	return tensor.NewKVCache(rows, m.Heads, m.Width()/m.Heads, maxLen)
}

// Step is causal self-attention for one new position per row: x (B, 1, W)
// is projected once (queries, keys and values together, packed weights
// only), its keys and values are appended to cache, and its query attends
// to every position cached (itself included). Inference only: x must
// belong to a no-grad scope (or take no gradient).
func (m *MultiheadAttention) Step(x *tensor.Tensor, cache *tensor.KV) *tensor.Tensor {
	if m.InProjWeight == nil {
		panic("nn: MultiheadAttention.Step needs the packed (self-attention) layout")
	}
	w := m.Width()
	qkv := tensor.Linear(x, m.InProjWeight, m.InProjBias) // (B, 1, 3W)
	cache.Append(qkv, w, 2*w)
	o := tensor.AttendKV(qkv, 0, cache)
	tensor.Drop(qkv)
	return m.output(o)
}

// CrossKV computes, once, the keys and values of xkv (B, T, Wkv) that
// StepCross attends to.
func (m *MultiheadAttention) CrossKV(xkv *tensor.Tensor) *tensor.KV {
	wk, bk := m.proj(1, 1)
	wv, bv := m.proj(2, 1)
	return tensor.NewCrossKV(xkv, wk, bk, wv, bv, m.Heads)
}

// StepCross attends from one position per row, x (B, 1, W), to keys and
// values from CrossKV: Forward(x, xkv, nil, false) without recomputing
// them. Inference only.
func (m *MultiheadAttention) StepCross(x *tensor.Tensor, kv *tensor.KV) *tensor.Tensor {
	q := m.projectQ(x)
	o := tensor.AttendKV(q, 0, kv)
	tensor.Drop(q)
	return m.output(o)
}
