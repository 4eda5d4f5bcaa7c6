package coca

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
)

// AttentionMaps shows where the multimodal decoder looks while it writes a
// caption.
type AttentionMaps struct {
	// Grid is the number of patches per side of the image the model sees
	// (Config.Grid()): maps are Grid×Grid, row-major, over the preprocessed
	// (resized and centre-cropped) image.
	Grid int
	// Tokens is the caption, the start token first.
	Tokens []int
	// Maps[j] belongs to Tokens[j+1]: the cross-attention of the decoder's
	// query at the position of Tokens[j] (the step that chose Tokens[j+1]),
	// averaged over heads and layers, carried to the image patches through
	// the captioning pooler's attention (itself averaged over heads; its
	// share on the class token dropped) and normalised to sum to 1.
	Maps [][]float32
	// Pooled[j] is the same attention over the pooler's image tokens
	// (Config.ImageTokens() values summing to 1), before it is carried to
	// the patches.
	Pooled [][]float32
}

// CrossAttention returns the decoder's attention over img for each token
// of a caption (Tokens of a Caption: the start token first), computed by a
// teacher-forced pass. It needs float32 weights.
func (p *Pipeline) CrossAttention(ctx context.Context, img image.Image, tokens []int) (*AttentionMaps, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x, err := p.pixels([]image.Image{img}, 0)
	if err != nil {
		return nil, err
	}
	return p.model.CrossAttention(x, tokens)
}

// CrossAttention is Pipeline.CrossAttention for one preprocessed image
// (1, 3, S, S). It follows the layers of VisionTower.Forward up to the
// captioning pooler and of MultimodalDecoder.Forward, reading the attention
// probabilities of the pooler and of every cross-attention block from
// their own parameters.
func (m *Model) CrossAttention(pixels *tensor.Tensor, tokens []int) (*AttentionMaps, error) {
	if w := m.weightsKind(); w != "float32" {
		return nil, errors.New("coca: cross-attention maps need float32 weights (the model holds its text stacks in " + w + ")")
	}
	if pixels.Dims() != 4 || pixels.Dim(0) != 1 {
		return nil, fmt.Errorf("coca: cross-attention: images %v, want one (1, 3, S, S)", pixels.Shape())
	}
	l := len(tokens)
	if l < 2 || l > m.Config.Text.ContextLength {
		return nil, fmt.Errorf("coca: cross-attention: %d tokens (want 2 to the context length %d)", l, m.Config.Text.ContextLength)
	}
	for _, t := range tokens {
		if t < 0 || t >= m.Config.Text.VocabSize {
			return nil, fmt.Errorf("coca: cross-attention: token %d outside the vocabulary", t)
		}
	}
	sc := tensor.NoGrad() // a scope of this call: no graph recorded
	defer sc.End()
	pool, imgTokens := m.poolerAttention(sc, sc.Use(pixels)) // (Q, 1+G²) for the decoder's tokens
	dec, logits := m.decoderAttention(sc, tokens, imgTokens)
	tensor.Drop(logits)
	defer tensor.Drop(imgTokens)
	q := imgTokens.Dim(1)
	g := m.Config.Grid()
	out := &AttentionMaps{Grid: g, Tokens: append([]int(nil), tokens...)}
	keys := len(pool) / q
	for j := 0; j < l-1; j++ {
		row := dec[j*q : (j+1)*q]
		pooled := make([]float32, q)
		patches := make([]float32, g*g)
		for k, a := range row {
			pooled[k] = a
			for t := 0; t < g*g; t++ {
				patches[t] += pooled[k] * pool[k*keys+1+t] // key 0 is the class token
			}
		}
		normalizeSum(patches)
		out.Pooled = append(out.Pooled, pooled)
		out.Maps = append(out.Maps, patches)
	}
	return out, nil
}

// decoderAttention runs the decoder as MultimodalDecoder.Forward does on
// the caption without its last token and returns its cross-attention
// (L-1, Q), averaged over layers and heads, and its logits (1, L-1, V).
func (m *Model) decoderAttention(sc *tensor.Scope, tokens []int, imgTokens *tensor.Tensor) ([]float32, *tensor.Tensor) {
	l := len(tokens)
	lat, txt := m.Text.forward(sc, tokens, 1, l)
	x := tensor.Slice(txt, 1, 0, l-1)
	tensor.Drop(lat, txt)
	next := func(y *tensor.Tensor) {
		tensor.Drop(x)
		x = y
	}
	q := imgTokens.Dim(1)
	dec := make([]float32, (l-1)*q)
	d := m.TextDecoder
	for i := range d.Resblocks {
		next(d.Resblocks[i].Forward(x, nil, true))
		blk := d.CrossAttn[i]
		hq, hkv := blk.Ln1.Forward(x), blk.Ln1KV.Forward(imgTokens)
		probs := attentionProbs(blk.Attn, hq, hkv) // (H, L-1, Q)
		tensor.Drop(hq, hkv)
		for j, p := range probs {
			dec[j%len(dec)] += p
		}
		next(blk.ForwardCross(x, imgTokens))
	}
	n := float32(len(d.Resblocks) * d.CrossAttn[0].Attn.Heads)
	for i := range dec {
		dec[i] /= n
	}
	h := d.LnFinal.Forward(x)
	next(nil)
	logits := tensor.MatMul(h, sc.Use(d.TextProjection), false, false)
	tensor.Drop(h)
	return dec, logits
}

// poolerAttention returns the captioning pooler's attention (Q, 1+G²),
// averaged over heads, for the rows that become the decoder's image tokens,
// and those image tokens (1, Q, D).
func (m *Model) poolerAttention(sc *tensor.Scope, pixels *tensor.Tensor) ([]float32, *tensor.Tensor) {
	v := m.Visual
	x := v.Encode(pixels)
	ap := v.AttnPool
	hq := ap.LnQ.Forward(tensor.Reshape(sc.Use(ap.Query), 1, ap.Query.Dim(0), ap.Query.Dim(1)))
	hkv := ap.LnK.Forward(x)
	probs := attentionProbs(ap.Attn, hq, hkv)
	tensor.Drop(hq, hkv)
	nq, keys := ap.Query.Dim(0), x.Dim(1)
	avg := make([]float32, nq*keys)
	for i, p := range probs {
		avg[i%len(avg)] += p / float32(ap.Attn.Heads)
	}
	lat, tokens := v.Pool(x)
	tensor.Drop(x, lat)
	if v.pool == PoolLegacy { // row 0 is the contrastive query
		avg = avg[keys:]
	}
	return avg, tokens
}

// attentionProbs returns the attention probabilities of a on queries xq
// (1, Lq, W) over keys xkv (1, Lk, Wkv), head by head: (H, Lq, Lk)
// row-major. xq and xkv are already normalised as the block normalises
// them.
func attentionProbs(a *nn.MultiheadAttention, xq, xkv *tensor.Tensor) []float32 {
	w, h := a.Width(), a.Heads
	hd := w / h
	wq, wk := a.QProjWeight, a.KProjWeight
	if a.InProjWeight != nil {
		wq, wk = tensor.Rows(a.InProjWeight, 0, w), tensor.Rows(a.InProjWeight, w, 2*w)
	}
	qt := tensor.Linear(xq, wq, tensor.Rows(a.InProjBias, 0, w))
	kt := tensor.Linear(xkv, wk, tensor.Rows(a.InProjBias, w, 2*w))
	defer tensor.Drop(qt, kt)
	q, k := qt.Data(), kt.Data()
	lq, lk := len(q)/w, len(k)/w
	scale := 1 / math.Sqrt(float64(hd))
	out := make([]float32, h*lq*lk)
	for hh := 0; hh < h; hh++ {
		for i := 0; i < lq; i++ {
			row := out[(hh*lq+i)*lk : (hh*lq+i+1)*lk]
			qi := q[i*w+hh*hd : i*w+(hh+1)*hd]
			mx := math.Inf(-1)
			s := make([]float64, lk)
			for j := range s {
				kj := k[j*w+hh*hd : j*w+(hh+1)*hd]
				d := 0.0
				for c := range qi {
					d += float64(qi[c]) * float64(kj[c])
				}
				s[j] = d * scale
				mx = math.Max(mx, s[j])
			}
			sum := 0.0
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for j := range row {
				row[j] = float32(s[j] / sum)
			}
		}
	}
	return out
}

func normalizeSum(v []float32) {
	s := float32(0)
	for _, x := range v {
		s += x
	}
	if s > 0 {
		for i := range v {
			v[i] /= s
		}
	}
}
