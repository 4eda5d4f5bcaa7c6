package coca

import (
	"fmt"
	"math"
	"runtime"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// A decoding step over bfloat16 weights streams every matrix of both text
// stacks and the vocabulary projection (about 264 MB for coca_ViT-B-32)
// for a few vectors: it is bound by memory bandwidth, and the rest must
// stay out of its way. The step is split between workers goroutines (the
// caller and workers−1 helpers started once per step) that run the same
// sequence of layers and meet at a barrier after each matrix product:
//
//   - each product's outputs are split between the workers, each streaming
//     its own rows of the matrix (asm.GemvBF16Strided, whose results do not
//     depend on the split);
//   - attention heads are split between the workers, and each worker
//     computes the query, key and value columns of its own heads, so that
//     attention follows the projection without a barrier;
//   - each worker keeps its own copy of the residual stream and of the
//     layer norm outputs, computed identically, so that residual additions
//     and layer norms need no barrier;
//   - every buffer is allocated once per decoder, not per step.

// maxStepWorkers caps the workers of a step: a few cores saturate the
// memory bandwidth.
const maxStepWorkers = 8

// bf16Matrix is an (out, in) matrix in bfloat16, row-major.
type bf16Matrix struct {
	data    []uint16
	out, in int
}

// rows returns rows [lo, hi) as a matrix sharing the data.
func (p bf16Matrix) rows(lo, hi int) bf16Matrix {
	return bf16Matrix{p.data[lo*p.in : hi*p.in], hi - lo, p.in}
}

// matrix16 returns the stored matrix of a bfloat16 tensor.
func matrix16(t *tensor.Tensor) bf16Matrix {
	h, transposed := t.BF16()
	if transposed {
		return bf16Matrix{h, t.Dim(1), t.Dim(0)}
	}
	return bf16Matrix{h, t.Dim(0), t.Dim(1)}
}

// bf16Block is one block of a text stack, its weights resolved.
type bf16Block struct {
	ln1w, ln1b, ln2w, ln2b []float32
	in                     bf16Matrix // self-attention: q, k, v (3W, W); cross-attention: q (W, W)
	inBias                 []float32
	out                    bf16Matrix
	outBias                []float32
	fc                     bf16Matrix
	fcBias                 []float32
	proj                   bf16Matrix
	projBias               []float32
	quick                  bool // QuickGELU
	heads                  int
}

// bf16Step is a decoder's plan and buffers for steps over bfloat16 weights.
type bf16Step struct {
	workers  int
	bar      *asm.Barrier
	text     []bf16Block
	self     []bf16Block
	cross    []bf16Block
	tok      bf16Matrix // token embedding (V, W)
	pos      []float32  // text positional embedding (ctx+1, W)
	lnfW     []float32  // decoder ln_final
	lnfB     []float32
	vocab    bf16Matrix // (V, W)
	w, v     int
	rows     int         // batch the buffers are sized for
	xs, hs   [][]float32 // per worker: residual stream and normalised input (B, W)
	scores   [][]float32 // per worker: attention scores
	qkv, o   []float32   // (B, 3W), (B, W)
	tmp, hid []float32   // (B, W), (B, hidden)
}

func newBF16Step(m *Model) *bf16Step {
	st := &bf16Step{
		workers: min(runtime.GOMAXPROCS(0), maxStepWorkers),
		tok:     matrix16(m.Text.TokenEmbedding.Weight),
		pos:     m.Text.PositionalEmbedding.Data(),
		lnfW:    m.TextDecoder.LnFinal.Weight.Data(),
		lnfB:    m.TextDecoder.LnFinal.Bias.Data(),
		vocab:   matrix16(m.TextDecoder.TextProjection),
		w:       m.Config.Text.Width,
		v:       m.Config.Multimodal.VocabSize,
	}
	st.bar = asm.NewBarrier(st.workers)
	block := func(blk *nn.ResidualAttentionBlock, cross bool) bf16Block {
		a := blk.Attn
		w := a.Width()
		b := bf16Block{
			ln1w: blk.Ln1.Weight.Data(), ln1b: blk.Ln1.Bias.Data(),
			ln2w: blk.Ln2.Weight.Data(), ln2b: blk.Ln2.Bias.Data(),
			out: matrix16(a.OutProj.Weight), outBias: a.OutProj.Bias.Data(),
			fc: matrix16(blk.MLP.CFc.Weight), fcBias: blk.MLP.CFc.Bias.Data(),
			proj: matrix16(blk.MLP.CProj.Weight), projBias: blk.MLP.CProj.Bias.Data(),
			quick: blk.MLP.Act == nn.QuickGELU,
			heads: a.Heads,
		}
		switch {
		case !cross:
			b.in, b.inBias = matrix16(a.InProjWeight), a.InProjBias.Data()
		case a.InProjWeight != nil:
			b.in, b.inBias = matrix16(a.InProjWeight).rows(0, w), a.InProjBias.Data()[:w]
		default:
			b.in, b.inBias = matrix16(a.QProjWeight), a.InProjBias.Data()[:w]
		}
		return b
	}
	for _, blk := range m.Text.Transformer.Resblocks {
		st.text = append(st.text, block(blk, false))
	}
	for i := range m.TextDecoder.Resblocks {
		st.self = append(st.self, block(m.TextDecoder.Resblocks[i], false))
		st.cross = append(st.cross, block(m.TextDecoder.CrossAttn[i], true))
	}
	return st
}

// size makes the buffers fit b rows.
func (st *bf16Step) size(d *Decoder) {
	b := d.b
	if st.rows == b && st.xs != nil {
		return
	}
	st.rows = b
	hidden := 0
	for _, blk := range append(append(st.text[:len(st.text):len(st.text)], st.self...), st.cross...) {
		hidden = max(hidden, blk.fc.out)
	}
	st.xs, st.hs, st.scores = nil, nil, nil
	for range st.workers {
		st.xs = append(st.xs, make([]float32, b*st.w))
		st.hs = append(st.hs, make([]float32, b*st.w))
		st.scores = append(st.scores, make([]float32, max(d.maxLen, d.nImg)))
	}
	st.qkv = make([]float32, b*3*st.w)
	st.o = make([]float32, b*st.w)
	st.tmp = make([]float32, b*st.w)
	st.hid = make([]float32, b*hidden)
	if cap(d.logits) < b*st.v {
		d.logits = make([]float32, b*st.v)
	}
	d.logits = d.logits[:b*st.v]
}

// step feeds tokens (one per row) at position d.t and leaves the logits in
// d.logits.
func (st *bf16Step) step(d *Decoder, tokens []int) {
	for i, t := range tokens {
		if t < 0 || t >= st.tok.out {
			panic(fmt.Sprintf("coca: Decoder.Step: token %d of row %d outside the %d-token vocabulary", t, i, st.tok.out))
		}
	}
	st.size(d)
	asm.Parallel(st.workers, func(id int) {
		st.run(d, id, tokens)
	})
}

// split returns worker id's share [lo, hi) of n items.
func (st *bf16Step) split(n, id int) (int, int) {
	return n * id / st.workers, n * (id + 1) / st.workers
}

// splitOutputs is split for the outputs of a product, with every boundary
// but n a multiple of 16: the vector kernels applied to a share afterwards
// (GELU) then take each element through the same code path (vector body
// or scalar tail) whatever the number of workers, so the results do not
// depend on it.
func (st *bf16Step) splitOutputs(n, id int) (int, int) {
	at := func(i int) int {
		if i == st.workers {
			return n
		}
		return n * i / st.workers &^ 15
	}
	return at(id), at(id + 1)
}

// gemv computes worker id's share of y (B, p.out) = x (B, p.in)·pᵀ + bias.
func (st *bf16Step) gemv(id, b int, p bf16Matrix, bias, x, y []float32) (lo, hi int) {
	lo, hi = st.splitOutputs(p.out, id)
	if lo < hi {
		asm.GemvBF16Strided(y[lo:], p.out, x, p.data[lo*p.in:hi*p.in], bias[lo:hi], b, hi-lo, p.in)
	}
	return lo, hi
}

// layerNorm normalises the b rows of x into y.
func layerNorm(y, x, g, bias []float32, b, w int) {
	for r := 0; r < b; r++ {
		asm.LayerNormRow(y[r*w:(r+1)*w], x[r*w:(r+1)*w], g, bias, 1e-5)
	}
}

// run is worker id's part of a step.
func (st *bf16Step) run(d *Decoder, id int, tokens []int) {
	b, w, pos := d.b, st.w, d.t
	x, h := st.xs[id][:b*w], st.hs[id][:b*w]
	pe := st.pos[pos*w : (pos+1)*w]
	for r, t := range tokens {
		xr := x[r*w : (r+1)*w]
		for j, v := range st.tok.data[t*w : (t+1)*w] {
			xr[j] = safetensors.BF16ToFloat32(v) + pe[j]
		}
	}
	for i := range st.text {
		st.selfBlock(d, id, &st.text[i], &d.text[i], x, h)
	}
	for i := range st.self {
		st.selfBlock(d, id, &st.self[i], &d.self[i], x, h)
		st.crossBlock(d, id, &st.cross[i], i, x, h)
	}
	layerNorm(h, x, st.lnfW, st.lnfB, b, w)
	lo, hi := st.splitOutputs(st.vocab.out, id)
	if lo < hi {
		asm.GemvBF16Strided(d.logits[lo:], st.vocab.out, h, st.vocab.data[lo*w:hi*w], nil, b, hi-lo, w)
	}
	st.bar.Wait()
}

// selfBlock runs a causal self-attention block for position d.t,
// appending its keys and values to the cache.
func (st *bf16Step) selfBlock(d *Decoder, id int, blk *bf16Block, c *kvCache, x, h []float32) {
	b, w, pos := d.b, st.w, d.t
	layerNorm(h, x, blk.ln1w, blk.ln1b, b, w)
	heads := blk.heads
	hd := w / heads
	h0, h1 := st.projectHeads(id, b, blk, h, 3)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for r := 0; r < b; r++ {
		row := st.qkv[r*3*w : (r+1)*3*w]
		for hh := h0; hh < h1; hh++ {
			base := (r*heads + hh) * d.maxLen * hd
			copy(c.k[base+pos*hd:base+(pos+1)*hd], row[w+hh*hd:w+(hh+1)*hd])
			copy(c.v[base+pos*hd:base+(pos+1)*hd], row[2*w+hh*hd:2*w+(hh+1)*hd])
			attendRow(st.o[r*w+hh*hd:r*w+(hh+1)*hd], row[hh*hd:(hh+1)*hd], c.k[base:], c.v[base:], pos+1, hd, scale, st.scores[id])
		}
	}
	st.bar.Wait()
	st.finish(d, id, blk, x, h)
}

// projectHeads computes, into st.qkv (B, parts·W), the query (and, for
// parts = 3, key and value) columns of worker id's share [h0, h1) of the
// heads, and returns that share.
func (st *bf16Step) projectHeads(id, b int, blk *bf16Block, h []float32, parts int) (h0, h1 int) {
	w := st.w
	hd := w / blk.heads
	h0, h1 = st.split(blk.heads, id)
	if h0 == h1 {
		return h0, h1
	}
	for p := 0; p < parts; p++ {
		lo, hi := p*w+h0*hd, p*w+h1*hd
		asm.GemvBF16Strided(st.qkv[lo:], parts*w, h, blk.in.data[lo*w:hi*w], blk.inBias[lo:hi], b, hi-lo, w)
	}
	return h0, h1
}

// crossBlock runs cross-attention block i against the image's keys and
// values.
func (st *bf16Step) crossBlock(d *Decoder, id int, blk *bf16Block, i int, x, h []float32) {
	b, w := d.b, st.w
	layerNorm(h, x, blk.ln1w, blk.ln1b, b, w)
	heads := blk.heads
	hd := w / heads
	h0, h1 := st.projectHeads(id, b, blk, h, 1) // queries only: (B, W)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for r := 0; r < b; r++ {
		for hh := h0; hh < h1; hh++ {
			k, v := d.crossHead(i, r, hh, heads, hd)
			attendT(st.o[r*w+hh*hd:r*w+(hh+1)*hd], st.qkv[r*w+hh*hd:r*w+(hh+1)*hd], k, v, d.nImg, hd, scale, st.scores[id])
		}
	}
	st.bar.Wait()
	st.finish(d, id, blk, x, h)
}

// finish applies a block's output projection and MLP to the attention
// output in st.o: x += o·outᵀ; x += mlp(ln_2(x)).
func (st *bf16Step) finish(d *Decoder, id int, blk *bf16Block, x, h []float32) {
	b, w := d.b, st.w
	st.gemv(id, b, blk.out, blk.outBias, st.o, st.tmp)
	st.bar.Wait()
	asm.Add(x, x, st.tmp[:b*w])
	layerNorm(h, x, blk.ln2w, blk.ln2b, b, w)
	n := blk.fc.out
	lo, hi := st.gemv(id, b, blk.fc, blk.fcBias, h, st.hid)
	for r := 0; r < b; r++ {
		seg := st.hid[r*n+lo : r*n+hi]
		if blk.quick {
			asm.QuickGelu(seg, seg)
		} else {
			asm.Gelu(seg, seg)
		}
	}
	st.bar.Wait()
	st.gemv(id, b, blk.proj, blk.projBias, st.hid[:b*n], st.tmp)
	st.bar.Wait()
	asm.Add(x, x, st.tmp[:b*w])
}
