package coca

import (
	"fmt"
	"sync"

	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// A model with bfloat16 weights (QuantizeBF16, LoadBF16) holds the
// matrices a decoding step reads only in bfloat16: every matrix of the
// blocks of both text stacks (attention projections, c_fc, c_proj), the
// token embedding and the vocabulary projection (kept transposed, (V, W),
// so that a step reads it row by row). That is about two thirds of
// coca_ViT-B-32's parameters at half their float32 size. The Decoder
// multiplies them with asm.GemvBF16, accumulating in float32; the text
// tower and the uncached decoder widen one matrix at a time into a scratch
// buffer and run the float32 kernels over it, so their results are those
// of the float32 kernels over the rounded weights, bit for bit.
//
// The model's float32 tensors of those matrices are then placeholders that
// nothing reads (fresh zeroed tensors whose memory is never touched): every
// path of this package reads the bfloat16 copies. The other weight
// matrices (the vision tower, the text tower's positional embedding and
// projection) stay float32, holding the rounded values. Biases, LayerNorm
// parameters, class embeddings and logit_scale keep their full values.
//
// Such a model is for inference: its text stacks run in a no-grad scope
// only (Model.Forward with gradients panics). Load or Init makes it a
// float32 model again.

// bf16Store maps the placeholder tensor of each bfloat16 matrix to its
// 16-bit values.
type bf16Store struct {
	w map[*tensor.Tensor]bf16Matrix
}

// bf16Matrix is an (out, in) matrix in bfloat16, row-major.
type bf16Matrix struct {
	data    []uint16
	out, in int
}

// rows returns rows [lo, hi) as a matrix sharing the data.
func (p bf16Matrix) rows(lo, hi int) bf16Matrix {
	return bf16Matrix{p.data[lo*p.in : hi*p.in], hi - lo, p.in}
}

// bf16Slot is a model field that holds a bfloat16 matrix in bf16 mode.
type bf16Slot struct {
	ref       **tensor.Tensor
	transpose bool // stored transposed: the vocabulary projection (W, V)
}

// bf16Slots lists the fields whose matrices a bfloat16 model holds only
// in bfloat16.
func (m *Model) bf16Slots() []bf16Slot {
	var s []bf16Slot
	add := func(p **tensor.Tensor) {
		if *p != nil {
			s = append(s, bf16Slot{ref: p})
		}
	}
	blocks := append(append(append([]*nn.ResidualAttentionBlock{}, m.Text.Transformer.Resblocks...), m.TextDecoder.Resblocks...), m.TextDecoder.CrossAttn...)
	for _, blk := range blocks {
		a := blk.Attn
		add(&a.InProjWeight)
		add(&a.QProjWeight)
		add(&a.KProjWeight)
		add(&a.VProjWeight)
		add(&a.OutProj.Weight)
		add(&blk.MLP.CFc.Weight)
		add(&blk.MLP.CProj.Weight)
	}
	add(&m.Text.TokenEmbedding.Weight)
	return append(s, bf16Slot{ref: &m.TextDecoder.TextProjection, transpose: true})
}

// IsBF16 reports whether the model holds bfloat16 weights (QuantizeBF16
// or LoadBF16).
func (m *Model) IsBF16() bool { return m.TextDecoder.bf16 != nil }

func (m *Model) setBF16(s *bf16Store) {
	m.Text.bf16 = s
	m.TextDecoder.bf16 = s
}

// QuantizeBF16 switches a float32 model to bfloat16 weights (see the
// comment at the top of bf16.go): every weight matrix (each parameter with
// two or more axes) is rounded to the nearest bfloat16 (ties to even), the
// matrices of both text stacks, the token embedding and the vocabulary
// projection are moved to 16-bit storage (their float32 tensors are
// replaced by placeholders and freed) and the others are rounded in place.
// It does nothing on a model that already has bfloat16 weights.
//
// LoadBF16 gives the same model straight from a checkpoint, without a
// float32 copy of the moved matrices.
func (m *Model) QuantizeBF16() {
	if m.IsBF16() {
		return
	}
	s := &bf16Store{w: map[*tensor.Tensor]bf16Matrix{}}
	moved := map[*tensor.Tensor]bool{}
	for _, sl := range m.bf16Slots() {
		t := *sl.ref
		moved[t] = true
		p := bf16Matrix{data: make([]uint16, t.Numel()), out: t.Dim(0), in: t.Dim(1)}
		if sl.transpose {
			p.out, p.in = p.in, p.out
			transposeBF16(p.data, t.Data(), t.Dim(0), t.Dim(1))
		} else {
			for i, v := range t.Data() {
				p.data[i] = safetensors.Float32ToBF16(v)
			}
		}
		ph := placeholder(t)
		s.w[ph] = p
		*sl.ref = ph
	}
	for _, p := range m.Params() {
		if _, ok := s.w[p.Tensor]; ok || p.Tensor.Dims() < 2 || moved[p.Tensor] {
			continue
		}
		d := p.Tensor.Data()
		for i, v := range d {
			d[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
		}
	}
	m.setBF16(s)
}

// placeholder returns a zeroed parameter of t's name and shape whose
// memory is never written (so never resident).
func placeholder(t *tensor.Tensor) *tensor.Tensor {
	return tensor.NewParam(t.Name(), t.Shape()...)
}

// dropBF16 makes a bfloat16 model a float32 one with zeroed (placeholder)
// matrices, before Load or Init overwrites every parameter.
func (m *Model) dropBF16() { m.setBF16(nil) }

// transposeBF16 rounds src (rows × cols, row-major) to bfloat16 into dst
// (cols × rows), in tiles that stay in cache.
func transposeBF16(dst []uint16, src []float32, rows, cols int) {
	transposeTiles(rows, cols, func(i, j int) { dst[j*rows+i] = safetensors.Float32ToBF16(src[i*cols+j]) })
}

// transposeTiles calls f(i, j) for every element of a rows × cols matrix,
// 64 × 64 tiles at a time.
func transposeTiles(rows, cols int, f func(i, j int)) {
	const t = 64
	for i0 := 0; i0 < rows; i0 += t {
		for j0 := 0; j0 < cols; j0 += t {
			for i := i0; i < min(i0+t, rows); i++ {
				for j := j0; j < min(j0+t, cols); j++ {
					f(i, j)
				}
			}
		}
	}
}

// scratchPool holds float32 buffers for widened matrices.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

// widen returns rows [lo, hi) of w's bfloat16 copy as a float32 tensor in
// a scratch buffer, to hand back with putScratch once used.
func (s *bf16Store) widen(w *tensor.Tensor, lo, hi int) (*tensor.Tensor, *[]float32) {
	p, ok := s.w[w]
	if !ok {
		panic("coca: no bfloat16 copy of " + w.Name())
	}
	if hi == 0 {
		hi = p.out
	}
	buf := getScratch((hi - lo) * p.in)
	for i, h := range p.data[lo*p.in : hi*p.in] {
		(*buf)[i] = safetensors.BF16ToFloat32(h)
	}
	return tensor.FromSlice(*buf, hi-lo, p.in), buf
}

// linear is tensor.Linear(x, rows [lo, hi) of w, b) over the widened
// bfloat16 weights (hi 0: all rows; b already holds those rows). It runs
// without gradients only.
func (s *bf16Store) linear(x, w, b *tensor.Tensor, lo, hi int) *tensor.Tensor {
	wt, buf := s.widen(w, lo, hi)
	y := tensor.Linear(x, wt, b)
	scratchPool.Put(buf)
	return y
}

func mustNoGrad(what string, scoped bool) {
	if !scoped {
		panic("coca: " + what + ": the model holds bfloat16 weights (QuantizeBF16, LoadBF16), which serve inference only: run it in a no-grad scope (EncodeText, Generate), or load float32 weights to train")
	}
}

// embedding is tensor.Embedding of the bfloat16 token table: (B·L, W).
func (s *bf16Store) embedding(table *tensor.Tensor, ids []int) *tensor.Tensor {
	p := s.w[table]
	out := tensor.New(len(ids), p.in)
	d := out.Data()
	for r, id := range ids {
		if id < 0 || id >= p.out {
			panic(fmt.Sprintf("coca: token id %d out of range of the %d-token vocabulary", id, p.out))
		}
		for j, h := range p.data[id*p.in : (id+1)*p.in] {
			d[r*p.in+j] = safetensors.BF16ToFloat32(h)
		}
	}
	return out
}

// block is blk.Forward(x, mask, causal) (kv nil) or
// blk.ForwardCross(x, kv) over the bfloat16 weights, computing what nn's
// blocks compute with the same float32 kernels.
func (s *bf16Store) block(blk *nn.ResidualAttentionBlock, x, kv, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	h := blk.Ln1.Forward(x)
	hk := h
	if kv != nil {
		hk = blk.Ln1KV.Forward(kv)
	}
	x = tensor.Add(x, s.attention(blk.Attn, h, hk, mask, causal))
	return tensor.Add(x, s.mlp(blk.MLP, blk.Ln2.Forward(x)))
}

// attention is a.Forward(xq, xkv, mask, causal) over the bfloat16 weights.
func (s *bf16Store) attention(a *nn.MultiheadAttention, xq, xkv, mask *tensor.Tensor, causal bool) *tensor.Tensor {
	w := a.Width()
	bias := func(i int) *tensor.Tensor { return tensor.Rows(a.InProjBias, i*w, (i+1)*w) }
	var o *tensor.Tensor
	switch {
	case xq == xkv && a.InProjWeight != nil:
		qkv := s.linear(xq, a.InProjWeight, a.InProjBias, 0, 0)
		o = tensor.AttentionHeads(qkv, 0, qkv, w, qkv, 2*w, a.Heads, w, mask, causal, 0)
	case a.InProjWeight != nil:
		q := s.linear(xq, a.InProjWeight, bias(0), 0, w)
		kv := s.linear(xkv, a.InProjWeight, tensor.Rows(a.InProjBias, w, 3*w), w, 3*w)
		o = tensor.AttentionHeads(q, 0, kv, 0, kv, w, a.Heads, w, mask, causal, 0)
	default:
		q := s.linear(xq, a.QProjWeight, bias(0), 0, 0)
		k := s.linear(xkv, a.KProjWeight, bias(1), 0, 0)
		v := s.linear(xkv, a.VProjWeight, bias(2), 0, 0)
		o = tensor.AttentionHeads(q, 0, k, 0, v, 0, a.Heads, w, mask, causal, 0)
	}
	return s.linear(o, a.OutProj.Weight, a.OutProj.Bias, 0, 0)
}

// mlp is mlp.Forward(x) over the bfloat16 weights.
func (s *bf16Store) mlp(mlp *nn.MLP, x *tensor.Tensor) *tensor.Tensor {
	h := s.linear(x, mlp.CFc.Weight, mlp.CFc.Bias, 0, 0)
	if mlp.Act == nn.QuickGELU {
		h = tensor.QuickGELU(h)
	} else {
		h = tensor.GELU(h)
	}
	return s.linear(h, mlp.CProj.Weight, mlp.CProj.Bias, 0, 0)
}

// vocabBlock is the number of vocabulary rows widened at a time by logits.
const vocabBlock = 4096

// logits is x (..., W) times the decoder's vocabulary projection (W, V),
// from its transposed bfloat16 copy, widening vocabBlock rows at a time.
func (s *bf16Store) logits(x, proj *tensor.Tensor) *tensor.Tensor {
	p := s.w[proj]
	v := p.out
	shape := append(append([]int(nil), x.Shape()[:x.Dims()-1]...), v)
	out := tensor.New(shape...)
	od := out.Data()
	rows := len(od) / max(v, 1)
	for lo := 0; lo < v; lo += vocabBlock {
		hi := min(v, lo+vocabBlock)
		blk := s.linear(x, proj, nil, lo, hi).Data()
		for r := 0; r < rows; r++ {
			copy(od[r*v+lo:r*v+hi], blk[r*(hi-lo):(r+1)*(hi-lo)])
		}
	}
	return out
}

// tensors returns the model's parameters as safetensors entries: the
// bfloat16 matrices as BF16 (the vocabulary projection back in its (W, V)
// layout), the others as F32.
func (s *bf16Store) tensors(m *Model) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		q, ok := s.w[p.Tensor]
		if !ok {
			ts = append(ts, safetensors.F32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
			continue
		}
		h := q.data
		if p.Tensor == m.TextDecoder.TextProjection { // stored transposed
			h = make([]uint16, len(q.data))
			transposeTiles(q.out, q.in, func(i, j int) { h[j*q.out+i] = q.data[i*q.in+j] })
		}
		ts = append(ts, safetensors.BF16(p.Name, p.Tensor.Shape(), h))
	}
	return ts
}
