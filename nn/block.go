package nn

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// ResidualAttentionBlock is open_clip's pre-LN transformer block:
//
//	x = x + attn(ln_1(x), kv)     kv = ln_1_kv(image tokens) for cross-attention, else ln_1(x)
//	x = x + mlp(ln_2(x))
type ResidualAttentionBlock struct {
	Ln1   *LayerNorm
	Attn  *MultiheadAttention
	Ln1KV *LayerNorm // cross-attention only
	Ln2   *LayerNorm
	MLP   *MLP
}

// NewResidualAttentionBlock returns a self-attention block (kvWidth 0) or
// a cross-attention block over keys/values of width kvWidth.
func NewResidualAttentionBlock(width, heads int, mlpRatio float64, act Activation, kvWidth int) *ResidualAttentionBlock {
	hidden := int(float64(width) * mlpRatio)
	b := &ResidualAttentionBlock{Ln1: NewLayerNorm(width), Ln2: NewLayerNorm(width), MLP: NewMLP(width, hidden, act)}
	if kvWidth > 0 {
		b.Ln1KV = NewLayerNorm(kvWidth)
		b.Attn = NewMultiheadAttention(width, kvWidth, heads)
	} else {
		b.Attn = NewMultiheadAttention(width, width, heads)
	}
	return b
}

// Params lists ln_1, attn, ln_1_kv, ln_2 and mlp.
func (b *ResidualAttentionBlock) Params() []Param {
	var kv Module
	if b.Ln1KV != nil {
		kv = b.Ln1KV
	}
	return Collect("ln_1", b.Ln1, "attn", b.Attn, "ln_1_kv", kv, "ln_2", b.Ln2, "mlp", b.MLP)
}

// Forward runs the self-attention block on x (B, L, W) with an additive
// mask (B, L, L) or nil and an optional causal mask.
func (b *ResidualAttentionBlock) Forward(x, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	return b.run(x, func(h *tensor.Tensor) *tensor.Tensor { return b.Attn.Forward(h, h, mask, causal) })
}

// ForwardLast runs the self-attention block for the last position of x
// (B, L, W) alone: the last row (B, 1, W) of Forward(x, mask', causal),
// where mask (B, 1, L), additive, or nil, is the last row of mask'. Every
// position's keys and values are computed; the query, the output
// projection and the MLP only for the last position.
func (b *ResidualAttentionBlock) ForwardLast(x, mask *tensor.Tensor) *tensor.Tensor {
	return b.runLast(x, true, func(h *tensor.Tensor) *tensor.Tensor { return b.Attn.forwardLast(h, mask) })
}

// ForwardCross runs the cross-attention block: queries from x (B, L, W),
// keys and values from ln_1_kv(kv) (B, T, Wkv); no mask. When x belongs to
// a no-grad scope, so does the computation from kv.
func (b *ResidualAttentionBlock) ForwardCross(x, kv *tensor.Tensor) *tensor.Tensor {
	b.mustCross("ForwardCross")
	hkv := b.Ln1KV.Forward(tensor.ScopeOf(x).Use(kv)) // in x's no-grad scope, if any
	out := b.run(x, func(h *tensor.Tensor) *tensor.Tensor { return b.Attn.Forward(h, hkv, nil, false) })
	tensor.Drop(hkv)
	return out
}

// NewCache returns an empty key/value cache for Step (see
// MultiheadAttention.NewCache).
func (b *ResidualAttentionBlock) NewCache(rows, maxLen int) *tensor.KV {
	return b.Attn.NewCache(rows, maxLen)
}

// Step runs the self-attention block for one new position per row, x
// (B, 1, W), attending to the positions cached so far and appending its
// own (causal decoding: the last row of Forward(x, nil, true) over the
// whole prefix, without recomputing it). Inference only.
func (b *ResidualAttentionBlock) Step(x *tensor.Tensor, cache *tensor.KV) *tensor.Tensor {
	return b.run(x, func(h *tensor.Tensor) *tensor.Tensor { return b.Attn.Step(h, cache) })
}

// CrossKV computes, once, the keys and values of ln_1_kv(kv) that
// StepCross attends to (kv: image tokens (B, T, Wkv)).
func (b *ResidualAttentionBlock) CrossKV(kv *tensor.Tensor) *tensor.KV {
	b.mustCross("CrossKV")
	h := b.Ln1KV.Forward(kv)
	c := b.Attn.CrossKV(h)
	tensor.Drop(h)
	return c
}

// StepCross runs the cross-attention block for one position per row, x
// (B, 1, W), against keys and values from CrossKV: ForwardCross without
// recomputing them. Inference only.
func (b *ResidualAttentionBlock) StepCross(x *tensor.Tensor, kv *tensor.KV) *tensor.Tensor {
	b.mustCross("StepCross")
	return b.run(x, func(h *tensor.Tensor) *tensor.Tensor { return b.Attn.StepCross(h, kv) })
}

func (b *ResidualAttentionBlock) mustCross(op string) {
	if b.Ln1KV == nil {
		panic("nn: " + op + " on a self-attention block")
	}
}

// run is the block around its attention, the one implementation of every
// way the block runs: x + attend(ln_1(x)), then + mlp(ln_2(·)). It drops
// each intermediate once read (tensor.Drop: a no-op for those a recorded
// graph holds).
func (b *ResidualAttentionBlock) run(x *tensor.Tensor, attend func(h *tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	return b.runLast(x, false, attend)
}

// runLast is run, for the last position of x alone when last is set:
// attend reads ln_1 of every position and returns the last one's
// attention (B, 1, W), which adds to that position's row of x.
func (b *ResidualAttentionBlock) runLast(x *tensor.Tensor, last bool, attend func(h *tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	h := b.Ln1.Forward(x)
	a := attend(h)
	tensor.Drop(h)
	if last {
		l := x.Dim(1)
		xl := tensor.Slice(x, 1, l-1, l)
		x = tensor.Add(xl, a)
		tensor.Drop(xl)
	} else {
		x = tensor.Add(x, a)
	}
	tensor.Drop(a)
	h = b.Ln2.Forward(x)
	m := b.MLP.Forward(h)
	tensor.Drop(h)
	out := tensor.Add(x, m)
	tensor.Drop(x, m)
	return out
}

// Transformer is a stack of self-attention blocks ("resblocks.{i}").
type Transformer struct {
	Resblocks []*ResidualAttentionBlock
}

// NewTransformer returns layers self-attention blocks.
func NewTransformer(width, layers, heads int, mlpRatio float64, act Activation) *Transformer {
	t := &Transformer{}
	for i := 0; i < layers; i++ {
		t.Resblocks = append(t.Resblocks, NewResidualAttentionBlock(width, heads, mlpRatio, act, 0))
	}
	return t
}

// Params lists resblocks.{i}.*.
func (t *Transformer) Params() []Param {
	var out []Param
	for i, b := range t.Resblocks {
		out = append(out, prefixed(fmt.Sprintf("resblocks.%d", i), b)...)
	}
	return out
}

// Forward runs every block.
func (t *Transformer) Forward(x, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	return forwardBlocks(t.Resblocks, x, mask, causal)
}

// forwardBlocks runs blocks in turn on x, dropping each intermediate
// output once the next block has read it (x stays the caller's).
func forwardBlocks(blocks []*ResidualAttentionBlock, x, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	in := x
	for _, b := range blocks {
		y := b.Forward(x, mask, causal)
		if x != in {
			tensor.Drop(x)
		}
		x = y
	}
	return x
}

// ForwardLast runs every block and returns the last position's output
// alone (B, 1, W): the last row of Forward(x, mask, causal), with the last
// block computing only what that row reads (ResidualAttentionBlock.
// ForwardLast). mask (B, L, L) is additive or nil.
func (t *Transformer) ForwardLast(x, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	n := len(t.Resblocks)
	if n == 0 {
		l := x.Dim(1)
		return tensor.Slice(x, 1, l-1, l)
	}
	h := forwardBlocks(t.Resblocks[:n-1], x, mask, causal)
	var row *tensor.Tensor
	if mask != nil {
		l := mask.Dim(1)
		row = tensor.Slice(mask, 1, l-1, l)
	}
	out := t.Resblocks[n-1].ForwardLast(h, row)
	if h != x {
		tensor.Drop(h)
	}
	tensor.Drop(row)
	return out
}

// AttentionalPooler: Query (Q, D) learned queries, after ln_q, attend to
// ln_k(x) through a MultiheadAttention with d_model D and key/value width
// Wkv. x (B, N, Wkv) → (B, Q, D).
type AttentionalPooler struct {
	Query *tensor.Tensor
	LnQ   *LayerNorm
	LnK   *LayerNorm
	Attn  *MultiheadAttention
}

// NewAttentionalPooler returns a pooler with q queries of width d over
// inputs of width kv.
func NewAttentionalPooler(d, kv, heads, queries int) *AttentionalPooler {
	return &AttentionalPooler{
		Query: tensor.NewParam("query", queries, d),
		LnQ:   NewLayerNorm(d),
		LnK:   NewLayerNorm(kv),
		Attn:  NewMultiheadAttention(d, kv, heads),
	}
}

// Params lists query, ln_q, ln_k and attn.
func (p *AttentionalPooler) Params() []Param {
	return Collect("query", p.Query, "ln_q", p.LnQ, "ln_k", p.LnK, "attn", p.Attn)
}

// Forward pools x (B, N, Wkv) into (B, Q, D).
func (p *AttentionalPooler) Forward(x *tensor.Tensor) *tensor.Tensor {
	return p.forward(x, p.Query.Dim(0))
}

// ForwardFirst is the first query's row of Forward, (B, 1, D): the keys
// and values of every position of x, the first query alone.
func (p *AttentionalPooler) ForwardFirst(x *tensor.Tensor) *tensor.Tensor {
	return p.forward(x, 1)
}

// forward pools x with the first n queries: (B, n, D).
func (p *AttentionalPooler) forward(x *tensor.Tensor, n int) *tensor.Tensor {
	b := x.Dim(0)
	// The queries are the same for every row: projected once, (Q, W),
	// then repeated (in x's no-grad scope, if any: they depend on
	// parameters only).
	query := tensor.ScopeOf(x).Use(p.Query)
	if n < query.Dim(0) {
		query = tensor.Rows(query, 0, n)
	}
	ln := p.LnQ.Forward(query)
	q := p.Attn.projectQ(ln)
	tensor.Drop(ln)
	qb := tensor.Expand(tensor.Reshape(q, 1, q.Dim(0), q.Dim(1)), b, q.Dim(0), q.Dim(1))
	tensor.Drop(q)
	kv := p.LnK.Forward(x)
	o := p.Attn.attend(qb, kv, nil, false)
	tensor.Drop(qb, kv)
	return p.Attn.output(o)
}

// PatchEmbed is the ViT stem: a convolution with kernel = stride = patch,
// no padding and no bias, stored as open_clip's conv1.weight (W, C, p, p).
type PatchEmbed struct {
	Weight *tensor.Tensor
	Patch  int
}

// NewPatchEmbed returns a zeroed stem.
func NewPatchEmbed(channels, width, patch int) *PatchEmbed {
	return &PatchEmbed{Weight: tensor.NewParam("weight", width, channels, patch, patch), Patch: patch}
}

// Params lists the convolution weight.
func (p *PatchEmbed) Params() []Param { return Collect("weight", p.Weight) }

// Forward maps images (B, C, H, W) to patch tokens (B, N, width).
func (p *PatchEmbed) Forward(x *tensor.Tensor) *tensor.Tensor {
	w := p.Weight
	flat := tensor.Reshape(w, w.Dim(0), w.Numel()/w.Dim(0))
	patches := tensor.Patchify(x, p.Patch)
	out := tensor.Linear(patches, flat, nil)
	tensor.Drop(patches)
	return out
}
