package coca

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// Decoder generates text one token at a time with key/value caches in both
// text stacks. Both stacks are causal, so a cached step computes exactly
// what recomputing the whole prefix would; the cross-attention keys and
// values depend only on the image and are computed once.
//
// A Decoder holds B rows (images, or beams). Step feeds one token per row
// and returns the next-token logits of every row; Reorder permutes or
// duplicates rows (beam search). The step is the layers' own (nn's Step
// and StepCross over the weights the model stores, float32 or bfloat16),
// run in the Decoder's no-grad scope through the tensor backend. A
// Decoder is used by one goroutine at a time; any number of Decoders may
// run on one model at once. Close hands its buffers back.
type Decoder struct {
	m      *Model
	scope  *tensor.Scope
	b      int
	maxLen int
	t      int          // tokens fed so far
	text   []*tensor.KV // text tower caches
	self   []*tensor.KV // multimodal decoder caches
	cross  []*tensor.KV // multimodal decoder cross-attention keys and values
	logits *tensor.Tensor
	host   []float32 // the logits in Go memory, under a device backend
}

// NewDecoder starts decoding for image tokens (B, T, D) as returned by
// EncodeImage, for at most maxLen tokens per row (start token included;
// capped at the context length).
func (m *Model) NewDecoder(imageTokens *tensor.Tensor, maxLen int) *Decoder {
	if ctx := m.Config.Text.ContextLength; maxLen > ctx || maxLen <= 0 {
		maxLen = ctx
	}
	sc := tensor.NoGrad()
	img := sc.Use(imageTokens)
	if tensor.OnDevice() {
		// EncodeImage returns Go memory: one copy to the device here
		// rather than one per cross-attention layer.
		img = tensor.Concat(0, img)
		defer tensor.Drop(img)
	}
	b := img.Dim(0)
	d := &Decoder{m: m, scope: sc, b: b, maxLen: maxLen}
	for _, blk := range m.Text.Transformer.Resblocks {
		d.text = append(d.text, blk.NewCache(b, maxLen))
	}
	for i, blk := range m.TextDecoder.CrossAttn {
		d.self = append(d.self, m.TextDecoder.Resblocks[i].NewCache(b, maxLen))
		d.cross = append(d.cross, blk.CrossKV(img))
	}
	return d
}

// Len returns how many tokens each row has been fed.
func (d *Decoder) Len() int { return d.t }

// Rows returns the number of rows.
func (d *Decoder) Rows() int { return d.b }

// Step feeds tokens[i] to row i and returns the next-token logits, (B, V)
// row-major. The slice is valid (and may be modified) until the next Step
// or Close.
func (d *Decoder) Step(tokens []int) []float32 {
	m := d.m
	if d.scope == nil {
		panic("coca: Decoder.Step after Close")
	}
	if len(tokens) != d.b {
		panic(fmt.Sprintf("coca: Decoder.Step: %d tokens for %d rows", len(tokens), d.b))
	}
	if d.t >= d.maxLen {
		panic(fmt.Sprintf("coca: Decoder.Step: past the maximum length %d", d.maxLen))
	}
	v := m.Text.TokenEmbedding.Weight.Dim(0)
	for i, t := range tokens {
		if t < 0 || t >= v {
			panic(fmt.Sprintf("coca: Decoder.Step: token %d of row %d outside the %d-token vocabulary", t, i, v))
		}
	}
	tensor.Drop(d.logits)
	d.logits = nil
	sc, pos, w := d.scope, d.t, m.Config.Text.Width
	e := tensor.Embedding(sc.Use(m.Text.TokenEmbedding.Weight), tokens)
	x := tensor.Add(tensor.Reshape(e, d.b, 1, w), tensor.Rows(sc.Use(m.Text.PositionalEmbedding), pos, pos+1))
	tensor.Drop(e)
	next := func(y *tensor.Tensor) {
		tensor.Drop(x)
		x = y
	}
	for i, blk := range m.Text.Transformer.Resblocks {
		next(blk.Step(x, d.text[i]))
	}
	dec := m.TextDecoder
	for i := range dec.Resblocks {
		next(dec.Resblocks[i].Step(x, d.self[i]))
		next(dec.CrossAttn[i].StepCross(x, d.cross[i]))
	}
	h := dec.LnFinal.Forward(tensor.Reshape(x, d.b, w))
	next(nil)
	d.logits = tensor.MatMul(h, dec.TextProjection, false, false)
	tensor.Drop(h)
	d.t++
	d.host = tensor.HostValues(d.logits, d.host) // one copy from a device
	return d.host
}

// Reorder makes row i a copy of former row src[i] (len(src) rows after),
// for beam search and for rows that have finished.
func (d *Decoder) Reorder(src []int) {
	for _, kvs := range [][]*tensor.KV{d.text, d.self, d.cross} {
		for _, kv := range kvs {
			kv.Reorder(src)
		}
	}
	d.b = len(src)
}

// Close hands the Decoder's buffers (caches, cross-attention keys and
// values, logits) back to the pool; it must not be used afterwards. Close
// is idempotent.
func (d *Decoder) Close() {
	for _, kvs := range [][]*tensor.KV{d.text, d.self, d.cross} {
		for _, kv := range kvs {
			kv.Release()
		}
	}
	d.text, d.self, d.cross = nil, nil, nil
	tensor.Drop(d.logits)
	d.logits = nil
	d.scope.End()
	d.scope = nil
}
