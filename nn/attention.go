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

// projWeights returns the q, k and v projection weights and biases as views.
func (m *MultiheadAttention) projWeights() (wq, wk, wv, bq, bk, bv *tensor.Tensor) {
	w := m.Width()
	if m.InProjWeight != nil {
		wq, wk, wv = tensor.Rows(m.InProjWeight, 0, w), tensor.Rows(m.InProjWeight, w, 2*w), tensor.Rows(m.InProjWeight, 2*w, 3*w)
	} else {
		wq, wk, wv = m.QProjWeight, m.KProjWeight, m.VProjWeight
	}
	return wq, wk, wv, tensor.Rows(m.InProjBias, 0, w), tensor.Rows(m.InProjBias, w, 2*w), tensor.Rows(m.InProjBias, 2*w, 3*w)
}

// splitHeads turns (B, L, W) into (B, H, L, W/H).
func splitHeads(x *tensor.Tensor, heads int) *tensor.Tensor {
	b, l, w := x.Dim(0), x.Dim(1), x.Dim(2)
	return tensor.Permute(tensor.Reshape(x, b, l, heads, w/heads), 0, 2, 1, 3)
}

// mergeHeads turns (B, H, L, D) into (B, L, H·D).
func mergeHeads(x *tensor.Tensor) *tensor.Tensor {
	b, h, l, d := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	return tensor.Reshape(tensor.Permute(x, 0, 2, 1, 3), b, l, h*d)
}

// Project computes the head-split queries, keys and values: q from xq
// (B, Lq, W), k and v from xkv (B, Lk, Wkv), each (B, H, L, W/H).
func (m *MultiheadAttention) Project(xq, xkv *tensor.Tensor) (q, k, v *tensor.Tensor) {
	wq, wk, wv, bq, bk, bv := m.projWeights()
	q = splitHeads(tensor.Linear(xq, wq, bq), m.Heads)
	k, v = m.ProjectKV(xkv, wk, wv, bk, bv)
	return q, k, v
}

// ProjectKV computes head-split keys and values from xkv.
func (m *MultiheadAttention) ProjectKV(xkv *tensor.Tensor, w ...*tensor.Tensor) (k, v *tensor.Tensor) {
	var wk, wv, bk, bv *tensor.Tensor
	if len(w) == 4 {
		wk, wv, bk, bv = w[0], w[1], w[2], w[3]
	} else {
		_, wk, wv, _, bk, bv = m.projWeights()
	}
	return splitHeads(tensor.Linear(xkv, wk, bk), m.Heads), splitHeads(tensor.Linear(xkv, wv, bv), m.Heads)
}

// ProjectQ computes head-split queries from xq.
func (m *MultiheadAttention) ProjectQ(xq *tensor.Tensor) *tensor.Tensor {
	wq, _, _, bq, _, _ := m.projWeights()
	return splitHeads(tensor.Linear(xq, wq, bq), m.Heads)
}

// Output merges the heads of attention output (B, H, L, D) and applies
// out_proj.
func (m *MultiheadAttention) Output(o *tensor.Tensor) *tensor.Tensor {
	return m.OutProj.Forward(mergeHeads(o))
}

// Forward attends from xq (B, Lq, W) to xkv (B, Lk, Wkv). mask (B, Lq, Lk)
// is additive or nil; causal hides later keys.
//
// The heads are read from the projections and written to the merged
// output in place (tensor.AttentionHeads): no head-splitting copies.
func (m *MultiheadAttention) Forward(xq, xkv, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	w := m.Width()
	var o *tensor.Tensor
	switch {
	case xq == xkv && m.InProjWeight != nil:
		// Self-attention: one packed projection, q, k, v side by side.
		qkv := tensor.Linear(xq, m.InProjWeight, m.InProjBias) // (B, L, 3W)
		o = tensor.AttentionHeads(qkv, 0, qkv, w, qkv, 2*w, m.Heads, w, mask, causal, 0)
		tensor.Drop(qkv)
	case m.InProjWeight != nil:
		// Cross-attention with packed weights: keys and values from one
		// (B, Lk, 2W) projection.
		q := tensor.Linear(xq, tensor.Rows(m.InProjWeight, 0, w), tensor.Rows(m.InProjBias, 0, w))
		kv := tensor.Linear(xkv, tensor.Rows(m.InProjWeight, w, 3*w), tensor.Rows(m.InProjBias, w, 3*w))
		o = tensor.AttentionHeads(q, 0, kv, 0, kv, w, m.Heads, w, mask, causal, 0)
		tensor.Drop(q, kv)
	default:
		wq, wk, wv, bq, bk, bv := m.projWeights()
		q, k, v := tensor.Linear(xq, wq, bq), tensor.Linear(xkv, wk, bk), tensor.Linear(xkv, wv, bv)
		o = tensor.AttentionHeads(q, 0, k, 0, v, 0, m.Heads, w, mask, causal, 0)
		tensor.Drop(q, k, v)
	}
	out := m.OutProj.Forward(o)
	tensor.Drop(o)
	return out
}
