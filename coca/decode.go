package coca

import (
	"fmt"
	"math"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// Decoder generates text one token at a time with key/value caches in both
// text stacks. Both stacks are causal, so a cached step computes exactly
// what recomputing the whole prefix would; the cross-attention keys and
// values depend only on the image and are computed once.
//
// A Decoder holds B rows (images). Step feeds one token per row and returns
// the next-token logits of every row; Reorder permutes or duplicates rows
// (beam search).
type Decoder struct {
	m      *Model
	b      int
	maxLen int
	t      int // tokens fed so far
	text   []kvCache
	self   []kvCache
	cross  [][]float32 // per decoder layer, (B, 2, H, d, T): each head's keys, then values, transposed
	nImg   int
	logits []float32 // (B, V)
	fast   *bf16Step // the step over bfloat16 weights (decode_bf16.go), or nil
	scope  *tensor.Scope
}

type kvCache struct {
	k, v []float32 // (B, H, maxLen, d)
}

// NewDecoder starts decoding for image tokens (B, T, D) as returned by
// EncodeImage, for at most maxLen tokens per row (start token included;
// capped at the context length).
func (m *Model) NewDecoder(imageTokens *tensor.Tensor, maxLen int) *Decoder {
	sc := tensor.NoGrad()
	imageTokens = sc.Use(imageTokens)
	if ctx := m.Config.Text.ContextLength; maxLen > ctx || maxLen <= 0 {
		maxLen = ctx
	}
	b := imageTokens.Dim(0)
	d := &Decoder{m: m, b: b, maxLen: maxLen, nImg: imageTokens.Dim(1), scope: sc}
	alloc := func(w int) kvCache {
		return kvCache{make([]float32, b*w*maxLen), make([]float32, b*w*maxLen)}
	}
	for range m.Text.Transformer.Resblocks {
		d.text = append(d.text, alloc(m.Config.Text.Width))
	}
	for _, blk := range m.TextDecoder.CrossAttn {
		d.self = append(d.self, alloc(m.Config.Multimodal.Width))
		h := blk.Ln1KV.Forward(imageTokens)
		d.cross = append(d.cross, crossKV(blk.Attn, h))
	}
	if m.IsBF16() {
		d.fast = newBF16Step(m)
	}
	return d
}

// crossKV returns the keys and values of cross-attention a for the
// normalised image tokens h (B, T, Dkv), each head's transposed:
// (B, 2, H, d, T). Per image it computes W·hᵀ with W the key and value
// projections stacked (2W, Dkv): the rows of the product are the channels,
// head by head, which is the transposed layout. s holds the bfloat16
// weights, or is nil.
func crossKV(a *nn.MultiheadAttention, h *tensor.Tensor) []float32 {
	w := a.Width()
	b, t, dkv := h.Dim(0), h.Dim(1), h.Dim(2)
	var parts [][]float32 // (2W, Dkv) or (W, Dkv) twice
	if a.InProjWeight != nil {
		parts = [][]float32{widened(a.InProjWeight)[w*dkv : 3*w*dkv]}
	} else {
		parts = [][]float32{widened(a.KProjWeight), widened(a.VProjWeight)}
	}
	bias := a.InProjBias.Data()[w : 3*w]
	x := h.Data()
	out := make([]float32, b*2*w*t)
	for i := 0; i < b; i++ {
		o := out[i*2*w*t : (i+1)*2*w*t]
		for c, bc := range bias {
			row := o[c*t : (c+1)*t]
			for j := range row {
				row[j] = bc
			}
		}
		r := 0
		for _, p := range parts {
			n := len(p) / dkv
			asm.Sgemm(false, true, n, t, dkv, 1, p, dkv, x[i*t*dkv:(i+1)*t*dkv], dkv, 1, o[r*t:], t)
			r += n
		}
	}
	return out
}

// Len returns how many tokens each row has been fed.
func (d *Decoder) Len() int { return d.t }

// Rows returns the number of rows.
func (d *Decoder) Rows() int { return d.b }

// Step feeds tokens[i] to row i and returns the next-token logits, (B, V)
// row-major. The slice is reused by the next Step.
func (d *Decoder) Step(tokens []int) []float32 {
	m := d.m
	if len(tokens) != d.b {
		panic(fmt.Sprintf("coca: Decoder.Step: %d tokens for %d rows", len(tokens), d.b))
	}
	if d.t >= d.maxLen {
		panic(fmt.Sprintf("coca: Decoder.Step: past the maximum length %d", d.maxLen))
	}
	if d.fast != nil {
		d.fast.step(d, tokens)
		d.t++
		return d.logits
	}
	pos := d.t
	w := m.Config.Text.Width
	// Text tower, position pos.
	sc := d.scope
	x := tensor.Add(tensor.Reshape(tensor.Embedding(sc.Use(m.Text.TokenEmbedding.Weight), tokens), d.b, 1, w), tensor.Rows(sc.Use(m.Text.PositionalEmbedding), pos, pos+1))
	for i, blk := range m.Text.Transformer.Resblocks {
		x = d.selfStep(blk, x, &d.text[i], pos)
	}
	// Multimodal decoder.
	for i := range m.TextDecoder.Resblocks {
		x = d.selfStep(m.TextDecoder.Resblocks[i], x, &d.self[i], pos)
		x = d.crossStep(m.TextDecoder.CrossAttn[i], x, i)
	}
	logits := tensor.MatMul(m.TextDecoder.LnFinal.Forward(tensor.Reshape(x, d.b, w)), m.TextDecoder.TextProjection, false, false)
	d.t++
	d.logits = append(d.logits[:0], logits.Data()...)
	return d.logits
}

// selfStep runs one causal self-attention block for the new position,
// appending its keys and values to the cache.
func (d *Decoder) selfStep(blk *nn.ResidualAttentionBlock, x *tensor.Tensor, c *kvCache, pos int) *tensor.Tensor {
	a := blk.Attn
	w, h := a.Width(), a.Heads
	hd := w / h
	qkv := tensor.Linear(blk.Ln1.Forward(x), a.InProjWeight, a.InProjBias).Data() // (B, 1, 3W)
	out := tensor.Zeros(d.b, 1, w)
	o := out.Data()
	scale := float32(1 / math.Sqrt(float64(hd)))
	scores := make([]float32, pos+1)
	for b := 0; b < d.b; b++ {
		row := qkv[b*3*w : (b+1)*3*w]
		for hh := 0; hh < h; hh++ {
			base := (b*h + hh) * d.maxLen * hd
			copy(c.k[base+pos*hd:base+(pos+1)*hd], row[w+hh*hd:w+(hh+1)*hd])
			copy(c.v[base+pos*hd:base+(pos+1)*hd], row[2*w+hh*hd:2*w+(hh+1)*hd])
			attendRow(o[b*w+hh*hd:b*w+(hh+1)*hd], row[hh*hd:(hh+1)*hd], c.k[base:], c.v[base:], pos+1, hd, scale, scores)
		}
	}
	x = tensor.Add(x, a.OutProj.Forward(out))
	return tensor.Add(x, blk.MLP.Forward(blk.Ln2.Forward(x)))
}

// crossStep runs cross-attention block i against the cached image keys
// and values.
func (d *Decoder) crossStep(blk *nn.ResidualAttentionBlock, x *tensor.Tensor, i int) *tensor.Tensor {
	a := blk.Attn
	w, h := a.Width(), a.Heads
	hd := w / h
	wq := a.QProjWeight
	if a.InProjWeight != nil {
		wq = tensor.Rows(a.InProjWeight, 0, w)
	}
	q := tensor.Linear(blk.Ln1.Forward(x), wq, tensor.Rows(a.InProjBias, 0, w)).Data() // (B, 1, W): head h at h·d
	out := tensor.Zeros(d.b, 1, w)
	o := out.Data()
	scale := float32(1 / math.Sqrt(float64(hd)))
	scores := make([]float32, d.nImg)
	for b := 0; b < d.b; b++ {
		for hh := 0; hh < h; hh++ {
			k, v := d.crossHead(i, b, hh, h, hd)
			attendT(o[b*w+hh*hd:b*w+(hh+1)*hd], q[(b*h+hh)*hd:(b*h+hh+1)*hd], k, v, d.nImg, hd, scale, scores)
		}
	}
	x = tensor.Add(x, a.OutProj.Forward(out))
	return tensor.Add(x, blk.MLP.Forward(blk.Ln2.Forward(x)))
}

// attendRow computes out = softmax(scale·K·q)·V over n keys of width hd.
func attendRow(out, q, k, v []float32, n, hd int, scale float32, scores []float32) {
	s := scores[:n]
	for j := range s {
		s[j] = scale * asm.Dot(q, k[j*hd:(j+1)*hd])
	}
	asm.SoftmaxRow(s, s)
	clear(out)
	for j, p := range s {
		asm.Axpy(p, v[j*hd:(j+1)*hd], out)
	}
}

// crossHead returns the transposed keys and values (hd, T) of head hh of
// row r in decoder layer i.
func (d *Decoder) crossHead(i, r, hh, heads, hd int) (k, v []float32) {
	n := d.nImg * hd
	base := (r*2*heads + hh) * n
	return d.cross[i][base : base+n], d.cross[i][base+heads*n : base+heads*n+n]
}

// attendT is attendRow over keys and values stored transposed, kt and vt
// (hd, n): a handful of long vector operations instead of two per key.
func attendT(out, q, kt, vt []float32, n, hd int, scale float32, scores []float32) {
	s := scores[:n]
	clear(s)
	for c := 0; c < hd; c++ {
		asm.Axpy(scale*q[c], kt[c*n:(c+1)*n], s)
	}
	asm.SoftmaxRow(s, s)
	for c := range out {
		out[c] = asm.Dot(s, vt[c*n:(c+1)*n])
	}
}

// Reorder makes row i a copy of former row src[i] (len(src) rows after),
// for beam search.
func (d *Decoder) Reorder(src []int) {
	move := func(buf []float32, per int) []float32 {
		out := make([]float32, len(src)*per)
		for i, s := range src {
			copy(out[i*per:(i+1)*per], buf[s*per:(s+1)*per])
		}
		return out
	}
	for i := range d.text {
		per := len(d.text[i].k) / d.b
		d.text[i].k, d.text[i].v = move(d.text[i].k, per), move(d.text[i].v, per)
	}
	for i := range d.self {
		per := len(d.self[i].k) / d.b
		d.self[i].k, d.self[i].v = move(d.self[i].k, per), move(d.self[i].v, per)
		d.cross[i] = move(d.cross[i], len(d.cross[i])/d.b)
	}
	d.b = len(src)
}

// widened returns the float32 values of t (widened when it stores
// bfloat16 values).
func widened(t *tensor.Tensor) []float32 {
	h, _ := t.BF16()
	if h == nil {
		return t.Data()
	}
	out := make([]float32, len(h))
	for i, v := range h {
		out[i] = safetensors.BF16ToFloat32(v)
	}
	return out
}
