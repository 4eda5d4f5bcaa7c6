package coca

import (
	"fmt"

	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
)

// VisionTower is open_clip's VisionTransformer with attentional pooling
// (state_dict prefix "visual.").
type VisionTower struct {
	Conv1               *nn.PatchEmbed
	ClassEmbedding      *tensor.Tensor // (Wv)
	PositionalEmbedding *tensor.Tensor // (N+1, Wv)
	LnPre               *nn.LayerNorm
	Transformer         *nn.Transformer
	AttnPool            *nn.AttentionalPooler
	AttnPoolContrastive *nn.AttentionalPooler // parallel and cascade only
	LnPost              *nn.LayerNorm
	Proj                *tensor.Tensor // (D, D)
	pool                string
}

// TextTower is the unimodal text decoder (prefix "text.").
type TextTower struct {
	TokenEmbedding      *nn.Embedding
	PositionalEmbedding *tensor.Tensor // (context_length+1, W)
	ClsEmb              *tensor.Tensor // (W)
	Transformer         *nn.Transformer
	LnFinal             *nn.LayerNorm
	TextProjection      *tensor.Tensor // (W, D)
	padID               int
	correctMask         bool
}

// MultimodalDecoder is the captioning decoder (prefix "text_decoder.").
type MultimodalDecoder struct {
	Resblocks      []*nn.ResidualAttentionBlock // causal self-attention
	CrossAttn      []*nn.ResidualAttentionBlock // cross-attention to image tokens
	LnFinal        *nn.LayerNorm
	TextProjection *tensor.Tensor // (W, V)
}

// Model is CoCa.
type Model struct {
	Config      Config
	Visual      *VisionTower
	Text        *TextTower
	TextDecoder *MultimodalDecoder
	LogitScale  *tensor.Tensor // scalar; the model uses exp(LogitScale)
}

// New builds a model with every parameter zero; call Init for a fresh
// model or load a checkpoint.
func New(cfg *Config) *Model {
	c := *cfg
	act := nn.GELU
	if c.QuickGELU {
		act = nn.QuickGELU
	}
	v, t, m, d := c.Vision, c.Text, c.Multimodal, c.EmbedDim
	grid := c.Grid()
	vis := &VisionTower{
		Conv1:               nn.NewPatchEmbed(3, v.Width, v.PatchSize),
		ClassEmbedding:      tensor.NewParam("class_embedding", v.Width),
		PositionalEmbedding: tensor.NewParam("positional_embedding", grid*grid+1, v.Width),
		LnPre:               nn.NewLayerNorm(v.Width),
		Transformer:         nn.NewTransformer(v.Width, v.Layers, c.VisionHeads(), v.MLPRatio, act),
		Proj:                tensor.NewParam("proj", d, d),
		pool:                v.AttentionalPool,
	}
	if v.AttentionalPool == PoolLegacy {
		vis.AttnPool = nn.NewAttentionalPooler(d, v.Width, v.AttnPoolerHeads, v.AttnPoolerQueries)
		vis.LnPost = nn.NewLayerNorm(d)
	} else {
		vis.LnPost = nn.NewLayerNorm(v.Width)
		vis.AttnPool = nn.NewAttentionalPooler(d, v.Width, v.AttnPoolerHeads, v.AttnPoolerQueries)
		vis.AttnPoolContrastive = nn.NewAttentionalPooler(d, d, v.AttnPoolerHeads, 1)
	}
	txt := &TextTower{
		TokenEmbedding:      nn.NewEmbedding(t.VocabSize, t.Width),
		PositionalEmbedding: tensor.NewParam("positional_embedding", t.ContextLength+1, t.Width),
		ClsEmb:              tensor.NewParam("cls_emb", t.Width),
		Transformer:         nn.NewTransformer(t.Width, t.Layers, t.Heads, t.MLPRatio, act),
		LnFinal:             nn.NewLayerNorm(t.Width),
		TextProjection:      tensor.NewParam("text_projection", t.Width, d),
		padID:               t.PadID,
		correctMask:         t.CorrectClsMask,
	}
	dec := &MultimodalDecoder{
		LnFinal:        nn.NewLayerNorm(m.Width),
		TextProjection: tensor.NewParam("text_projection", m.Width, m.VocabSize),
	}
	for i := 0; i < m.Layers; i++ {
		dec.Resblocks = append(dec.Resblocks, nn.NewResidualAttentionBlock(m.Width, m.Heads, m.MLPRatio, act, 0))
		dec.CrossAttn = append(dec.CrossAttn, nn.NewResidualAttentionBlock(m.Width, m.Heads, m.MLPRatio, act, d))
	}
	model := &Model{Config: c, Visual: vis, Text: txt, TextDecoder: dec, LogitScale: tensor.NewParam("logit_scale")}
	for _, p := range model.Params() {
		p.Tensor.SetName(p.Name)
	}
	return model
}

// Params lists every parameter under open_clip's state_dict names.
func (m *Model) Params() []nn.Param {
	return nn.Collect("visual", m.Visual, "text", m.Text, "text_decoder", m.TextDecoder, "logit_scale", m.LogitScale)
}

// NumParams returns the number of parameter values.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += p.Tensor.Numel()
	}
	return n
}

// Params lists the vision tower's parameters.
func (v *VisionTower) Params() []nn.Param {
	var contrastive nn.Module
	if v.AttnPoolContrastive != nil {
		contrastive = v.AttnPoolContrastive
	}
	return nn.Collect("class_embedding", v.ClassEmbedding, "positional_embedding", v.PositionalEmbedding,
		"proj", v.Proj, "conv1", v.Conv1, "ln_pre", v.LnPre, "transformer", v.Transformer,
		"attn_pool", v.AttnPool, "attn_pool_contrastive", contrastive, "ln_post", v.LnPost)
}

// Params lists the text tower's parameters.
func (t *TextTower) Params() []nn.Param {
	return nn.Collect("cls_emb", t.ClsEmb, "positional_embedding", t.PositionalEmbedding,
		"text_projection", t.TextProjection, "token_embedding", t.TokenEmbedding,
		"transformer", t.Transformer, "ln_final", t.LnFinal)
}

// Params lists the decoder's parameters.
func (d *MultimodalDecoder) Params() []nn.Param {
	var out []nn.Param
	for i := range d.Resblocks {
		out = append(out, nn.Collect(fmt.Sprintf("resblocks.%d", i), d.Resblocks[i])...)
	}
	for i := range d.CrossAttn {
		out = append(out, nn.Collect(fmt.Sprintf("cross_attn.%d", i), d.CrossAttn[i])...)
	}
	return append(out, nn.Collect("ln_final", d.LnFinal, "text_projection", d.TextProjection)...)
}

// Forward encodes images (B, 3, S, S) into the pooled latent (B, D), before
// normalisation, and the image tokens (B, T, D) the decoder reads: Encode,
// then Pool. It records the graph unless images belong to a no-grad scope.
func (v *VisionTower) Forward(images *tensor.Tensor) (latent, tokens *tensor.Tensor) {
	x := v.Encode(images)
	latent, tokens = v.Pool(x)
	tensor.Drop(x)
	return latent, tokens
}

// Encode returns the encoder's output tokens (B, 1+N, W) for images
// (B, 3, S, S): the class token and the patch tokens after the last
// transformer block, and ln_post, which open_clip applies before the
// poolers except in the legacy single-pooler layout. They are what the
// attentional poolers (Pool) and a probe read.
func (v *VisionTower) Encode(images *tensor.Tensor) *tensor.Tensor {
	b := images.Dim(0)
	p := v.Conv1.Forward(images) // (B, N, Wv)
	w := p.Dim(2)
	cls := tensor.Expand(tensor.Reshape(tensor.ScopeOf(p).Use(v.ClassEmbedding), 1, 1, w), b, 1, w)
	c := tensor.Concat(1, cls, p)
	tensor.Drop(p, cls)
	x := tensor.Add(c, v.PositionalEmbedding)
	tensor.Drop(c)
	h := v.LnPre.Forward(x)
	tensor.Drop(x)
	x = v.Transformer.Forward(h, nil, false)
	tensor.Drop(h)
	if v.pool == PoolLegacy {
		return x
	}
	h = v.LnPost.Forward(x)
	tensor.Drop(x)
	return h
}

// Pool maps the encoder's tokens x (Encode) to the pooled latent (B, D),
// before normalisation, and the image tokens (B, T, D) the decoder reads.
// x stays the caller's.
func (v *VisionTower) Pool(x *tensor.Tensor) (latent, tokens *tensor.Tensor) {
	var pooled *tensor.Tensor
	switch v.pool {
	case PoolLegacy:
		a := v.AttnPool.Forward(x)
		y := v.LnPost.Forward(a) // (B, Q, D)
		tensor.Drop(a)
		q := y.Dim(1)
		pooled = tensor.Slice(y, 1, 0, 1)
		tokens = tensor.Slice(y, 1, 1, q)
		tensor.Drop(y)
	default:
		tokens = v.AttnPool.Forward(x)
		src := x
		if v.pool == PoolCascade {
			src = tokens
		}
		pooled = v.AttnPoolContrastive.Forward(src) // (B, 1, D)
	}
	return v.project(pooled), tokens
}

// Latent is Pool's latent (B, D) alone, computing only what it reads: in
// the legacy layout the pooler's first query (the contrastive one), in the
// parallel layout the contrastive pooler alone; in the cascade layout,
// whose contrastive pooler reads the other's output, both. x stays the
// caller's.
func (v *VisionTower) Latent(x *tensor.Tensor) *tensor.Tensor {
	switch v.pool {
	case PoolLegacy:
		a := v.AttnPool.ForwardFirst(x)
		y := v.LnPost.Forward(a) // (B, 1, D)
		tensor.Drop(a)
		return v.project(y)
	case PoolCascade:
		lat, tokens := v.Pool(x)
		tensor.Drop(tokens)
		return lat
	default:
		return v.project(v.AttnPoolContrastive.Forward(x))
	}
}

// project maps the pooled rows (B, 1, D) to the latent (B, D) and drops
// them.
func (v *VisionTower) project(pooled *tensor.Tensor) *tensor.Tensor {
	latent := tensor.MatMul(tensor.Reshape(pooled, pooled.Dim(0), pooled.Dim(2)), v.Proj, false, false)
	tensor.Drop(pooled)
	return latent
}

// mask builds the additive (B, L+1, L+1) attention mask of the text tower
// from its ids (B, L): causal, plus the CLS row's key mask (see
// openclip-coca.md), where the ids are (a kernel on a device).
func (t *TextTower) mask(ids *tensor.IDs) *tensor.Tensor {
	l := ids.Shape()[1]
	shift := 1 // open_clip's legacy mask: key j is valid when token j−1 is not pad
	if t.correctMask {
		shift = 0 // key j is valid when token j is not pad
	}
	return tensor.CausalMaskIDs(ids, l+1, l, int32(t.padID), shift)
}

// Forward encodes text ids (B, L) given row-major: the pooled latent (B, D)
// before normalisation and the token outputs (B, L, W) without ln_final.
// It records the graph for training; EncodeText is the inference entry.
func (t *TextTower) Forward(text []int, b, l int) (latent, tokens *tensor.Tensor) {
	return t.forward(nil, text, b, l)
}

// forward is Forward in the no-grad scope s (nil: recording).
func (t *TextTower) forward(s *tensor.Scope, text []int, b, l int) (latent, tokens *tensor.Tensor) {
	if len(text) != b*l {
		panic(fmt.Sprintf("coca: TextTower.Forward: %d ids for batch %d × length %d", len(text), b, l))
	}
	ids := tensor.NewIDs(text, b, l)
	latent, tokens = t.forwardIDs(s, ids, l, true)
	ids.Drop()
	return latent, tokens
}

// latent is the pooled latent (B, D) of text ids (B, L), before
// normalisation, in the no-grad scope s: forward without the token
// outputs, computing only the positions the CLS row reads (prefix) and,
// in the last block, only the CLS row (nn.Transformer.ForwardLast).
func (t *TextTower) latent(s *tensor.Scope, text []int, b, l int) *tensor.Tensor {
	if len(text) != b*l {
		panic(fmt.Sprintf("coca: TextTower.Forward: %d ids for batch %d × length %d", len(text), b, l))
	}
	cut, n := t.cut(text, b, l, 1)
	ids := tensor.NewIDs(cut, b, n)
	latent, _ := t.forwardIDs(s, ids, l, false)
	ids.Drop()
	return latent
}

// cut returns the ids (B, n) of the first n positions of the texts (B
// rows of L ids) with n = max(prefix, least) capped at L: text itself when
// n is L.
func (t *TextTower) cut(text []int, b, l, least int) ([]int, int) {
	n := min(max(t.prefix(text, b, l), least), l)
	if n == l {
		return text, l
	}
	cut := make([]int, 0, b*n)
	for r := range b {
		cut = append(cut, text[r*l:r*l+n]...)
	}
	return cut, n
}

// prefix returns how many leading positions of the texts (B rows of L ids)
// the CLS row's output depends on. The CLS row attends to key j only when
// id j−shift is not pad (mask), and every other position attends causally
// to earlier ones, so past the last non-pad id + 1 (+1 for the legacy
// mask's shift) no position reaches the latent: trailing padding, most of
// a short prompt's context, is not computed. At least 1; L when a row has
// no trailing padding.
func (t *TextTower) prefix(text []int, b, l int) int {
	n := 1
	for r := range b {
		row := text[r*l : (r+1)*l]
		for j := l - 1; j >= 0; j-- {
			if row[j] != t.padID {
				n = max(n, j+2)
				break
			}
		}
	}
	return min(n, l)
}

// forwardIDs is forward for ids (B, L) in the backend's memory, which the
// embedding's backward and the mask read there. The CLS token takes
// position clsPos: L, or the text's length when ids are the prefix of
// longer texts that latent computes. Without withTokens the last block
// computes the CLS row alone and tokens is nil.
func (t *TextTower) forwardIDs(s *tensor.Scope, ids *tensor.IDs, clsPos int, withTokens bool) (latent, tokens *tensor.Tensor) {
	sh := ids.Shape()
	if len(sh) != 2 {
		panic(fmt.Sprintf("coca: TextTower.Forward: ids of shape %v, want (B, L)", sh))
	}
	b, l := sh[0], sh[1]
	if clsPos+1 > t.PositionalEmbedding.Dim(0) || clsPos < l {
		panic(fmt.Sprintf("coca: TextTower.Forward: length %d (CLS at %d) exceeds the context length %d", l, clsPos, t.PositionalEmbedding.Dim(0)-1))
	}
	w := t.ClsEmb.Dim(0)
	e := tensor.EmbeddingIDs(s.Use(t.TokenEmbedding.Weight), ids)
	cls := tensor.Expand(tensor.Reshape(s.Use(t.ClsEmb), 1, 1, w), b, 1, w)
	c := tensor.Concat(1, tensor.Reshape(e, b, l, w), cls)
	tensor.Drop(e, cls)
	pos := tensor.Rows(s.Use(t.PositionalEmbedding), 0, l+1)
	if clsPos != l { // a prefix: positions 0..L−1, then the CLS's own
		pos = tensor.Concat(0, tensor.Rows(s.Use(t.PositionalEmbedding), 0, l),
			tensor.Rows(s.Use(t.PositionalEmbedding), clsPos, clsPos+1))
	}
	x := tensor.Add(c, pos)
	tensor.Drop(c, pos)
	mask := t.mask(ids)
	if !withTokens {
		cl := t.Transformer.ForwardLast(x, mask, false) // (B, 1, W)
		tensor.Drop(x, mask)
		latent = t.pool(cl)
		tensor.Drop(cl)
		return latent, nil
	}
	y := t.Transformer.Forward(x, mask, false)
	tensor.Drop(x, mask)
	cl := tensor.Slice(y, 1, l, l+1)
	latent = t.pool(cl)
	tensor.Drop(cl)
	tokens = tensor.Slice(y, 1, 0, l)
	tensor.Drop(y)
	return latent, tokens
}

// pool maps the CLS row's output cl (B, 1, W) to the latent (B, D):
// ln_final, then the text projection.
func (t *TextTower) pool(cl *tensor.Tensor) *tensor.Tensor {
	pooled := t.LnFinal.Forward(tensor.Reshape(cl, cl.Dim(0), cl.Dim(2)))
	latent := tensor.MatMul(pooled, t.TextProjection, false, false)
	tensor.Drop(pooled)
	return latent
}

// Forward maps text tokens (B, L, W) and image tokens (B, T, D) to logits
// (B, L, V). It records the graph unless its inputs belong to a no-grad
// scope.
func (d *MultimodalDecoder) Forward(tokens, image *tensor.Tensor) *tensor.Tensor {
	x := tokens
	next := func(y *tensor.Tensor) {
		if x != tokens {
			tensor.Drop(x)
		}
		x = y
	}
	for i := range d.Resblocks {
		next(d.Resblocks[i].Forward(x, nil, true))
		next(d.CrossAttn[i].ForwardCross(x, image))
	}
	h := d.LnFinal.Forward(x)
	next(nil)
	out := tensor.MatMul(h, d.TextProjection, false, false)
	tensor.Drop(h)
	return out
}

// Output is what one forward pass computes.
type Output struct {
	ImageFeatures *tensor.Tensor // (B, D), L2-normalised
	TextFeatures  *tensor.Tensor // (B, D), L2-normalised
	ImageLatent   *tensor.Tensor // (B, D), before normalisation
	TextLatent    *tensor.Tensor // (B, D), before normalisation
	ImageEmbs     *tensor.Tensor // (B, T, D): image tokens for the decoder
	TextTokens    *tensor.Tensor // (B, N, W): text tower outputs (no ln_final)
	Logits        *tensor.Tensor // (B, N−1, V): next-token logits for text[:, :N-1]
	LogitScale    *tensor.Tensor // exp(logit_scale)

	ids *tensor.IDs // the text ids on the backend, while the graph holds them
}

// Forward runs images (B, 3, S, S) and text ids (B, L) through the model,
// recording the graph for training, or none when images belong to a no-grad
// scope. It computes the texts' first N positions, N ≤ L: through the
// one after the batch's last non-pad id (at least 2), the positions the
// text features and the caption loss read (trailing padding is neither
// attended to by the CLS row nor a label), so TextTokens and Logits cover
// N positions; the losses and gradients are those of the whole context.
func (m *Model) Forward(images *tensor.Tensor, text []int, b, l int) *Output {
	if images.Dims() != 4 || images.Dim(0) != b {
		panic(fmt.Sprintf("coca: Forward: images %v for batch %d", images.Shape(), b))
	}
	if len(text) != b*l {
		panic(fmt.Sprintf("coca: Forward: %d ids for batch %d × length %d", len(text), b, l))
	}
	o := &Output{}
	o.ImageLatent, o.ImageEmbs = m.Visual.Forward(images)
	// The ids go to the backend once; the embedding, the mask and the
	// caption loss read them there. A recorded graph holds them until it
	// is released; without one they are handed back here.
	cut, n := m.Text.cut(text, b, l, 2)
	ids := tensor.NewIDs(cut, b, n)
	o.TextLatent, o.TextTokens = m.Text.forwardIDs(tensor.ScopeOf(images), ids, l, true)
	ids.Drop()
	if ids.Live() {
		o.ids = ids
	}
	o.ImageFeatures = tensor.Normalize(o.ImageLatent, 1e-12)
	o.TextFeatures = tensor.Normalize(o.TextLatent, 1e-12)
	o.Logits = m.TextDecoder.Forward(tensor.Slice(o.TextTokens, 1, 0, n-1), o.ImageEmbs)
	o.LogitScale = tensor.Exp(m.LogitScale)
	return o
}

// EncodeImage returns normalised image features (B, D) and image tokens
// (B, T, D) for images (B, 3, S, S), recording no graph (see the package
// documentation on concurrency).
func (m *Model) EncodeImage(images *tensor.Tensor) (features, tokens *tensor.Tensor) {
	s, end := scopeFor(images)
	defer end()
	f, tok := m.encodeImage(s, images)
	return hostCopy(f), hostCopy(tok)
}

// EncodeImageFeatures returns EncodeImage's normalised image features
// (B, D) alone, computing only what they read (VisionTower.Latent): for
// embeddings, zero-shot classification and retrieval, where the image
// tokens the decoder reads are not needed. It records no graph.
func (m *Model) EncodeImageFeatures(images *tensor.Tensor) *tensor.Tensor {
	s, end := scopeFor(images)
	defer end()
	return hostCopy(m.imageFeatures(s, images))
}

// imageFeatures is EncodeImageFeatures in scope s, with a pooled result.
func (m *Model) imageFeatures(s *tensor.Scope, images *tensor.Tensor) *tensor.Tensor {
	x := m.Visual.Encode(s.Use(images))
	lat := m.Visual.Latent(x)
	tensor.Drop(x)
	f := tensor.Normalize(lat, 1e-12)
	tensor.Drop(lat)
	return f
}

// encodeImage is EncodeImage in scope s, with pooled results for the
// caller to drop.
func (m *Model) encodeImage(s *tensor.Scope, images *tensor.Tensor) (features, tokens *tensor.Tensor) {
	lat, tok := m.Visual.Forward(s.Use(images))
	f := tensor.Normalize(lat, 1e-12)
	tensor.Drop(lat)
	return f, tok
}

// EncodeText returns normalised text features (B, D) for ids (B, L),
// recording no graph. The positions after the one following the batch's
// last non-pad id, which the features do not read, are not computed: a
// short prompt in a long context costs its own length (open_clip computes
// the whole context, to the same features).
func (m *Model) EncodeText(text []int, b, l int) *tensor.Tensor {
	s := tensor.NoGrad()
	defer s.End()
	return hostCopy(m.encodeText(s, text, b, l))
}

// encodeText is EncodeText in scope s, with a pooled result.
func (m *Model) encodeText(s *tensor.Scope, text []int, b, l int) *tensor.Tensor {
	lat := m.Text.latent(s, text, b, l)
	f := tensor.Normalize(lat, 1e-12)
	tensor.Drop(lat)
	return f
}

// hostCopy returns t's values as a tensor in Go memory and hands t's
// buffer back: what the entry points return, so that callers never
// release anything (under a device backend too).
func hostCopy(t *tensor.Tensor) *tensor.Tensor {
	v := make([]float32, t.Numel())
	copy(v, tensor.HostValues(t, v)) // from a device: already in v
	out := tensor.FromSlice(v, t.Shape()...)
	tensor.Drop(t)
	return out
}

// scopeFor returns the open no-grad scope x belongs to, or a new one and
// the function that ends it.
func scopeFor(x *tensor.Tensor) (*tensor.Scope, func()) {
	if s := tensor.ScopeOf(x); s != nil {
		return s, func() {}
	}
	s := tensor.NoGrad()
	return s, s.End
}

// ContrastiveLoss is open_clip's ClipLoss, weight·(CE(s·I·Tᵀ) +
// CE(s·T·Iᵀ))/2 with s = logitScale (exp(logit_scale)): the rows of img
// and txt (B, D), normalised features, are scored against every row of
// allTxt and allImg (N, D), and row i's match is row first+i there.
// Model.Loss passes its batch as both (first 0); data-parallel training
// passes this rank's rows and the features gathered from every rank
// (open_clip's gather_with_grad, local_loss). When img and allImg, and txt
// and allTxt, are the same tensors, the text-to-image logits are the
// transpose of the image-to-text ones rather than a second product.
func ContrastiveLoss(img, txt, allImg, allTxt *tensor.Tensor, first int, logitScale *tensor.Tensor, weight float32) *tensor.Tensor {
	b := img.Dim(0)
	if txt.Dim(0) != b || allImg.Dim(0) != allTxt.Dim(0) || first < 0 || first+b > allImg.Dim(0) {
		panic(fmt.Sprintf("coca: ContrastiveLoss: rows %d and %d from %d against %d and %d",
			img.Dim(0), txt.Dim(0), first, allImg.Dim(0), allTxt.Dim(0)))
	}
	lpi := tensor.Mul(tensor.MatMul(img, allTxt, false, true), logitScale) // (B, N)
	var lpt *tensor.Tensor
	if img == allImg && txt == allTxt {
		lpt = tensor.Transpose(lpi, 0, 1)
	} else {
		lpt = tensor.Mul(tensor.MatMul(txt, allImg, false, true), logitScale)
	}
	targets := tensor.RangeIDs(first, b) // written on the device, not copied
	defer targets.Drop()
	return tensor.Scale(tensor.Add(tensor.CrossEntropyIDs(lpi, targets, -1), tensor.CrossEntropyIDs(lpt, targets, -1)), weight/2)
}

// samePrefix reports whether a holds the first n of each of the b rows of
// l ids in text.
func samePrefix(a []int32, text []int, b, l, n int) bool {
	if len(a) != b*n || len(text) != b*l || n > l {
		return false
	}
	for r := range b {
		for j, v := range a[r*n : (r+1)*n] {
			if int(v) != text[r*l+j] {
				return false
			}
		}
	}
	return true
}

// LossWeights weigh the two losses; the defaults are open_clip's.
type LossWeights struct {
	Contrastive float32 // 1.0
	Caption     float32 // 2.0
}

// DefaultLossWeights are open_clip's CoCa defaults.
var DefaultLossWeights = LossWeights{Contrastive: 1, Caption: 2}

// Losses holds the weighted losses of one forward pass.
type Losses struct {
	Total, Contrastive, Caption *tensor.Tensor
}

// Loss computes the contrastive loss (weight·(CE(s·I·Tᵀ) + CE(s·T·Iᵀ))/2 over
// the batch) and the caption loss (weight·CE of logits against text[:, 1:],
// pad ignored) from one forward pass.
func (m *Model) Loss(o *Output, text []int, b, l int, w LossWeights) Losses {
	con := ContrastiveLoss(o.ImageFeatures, o.TextFeatures, o.ImageFeatures, o.TextFeatures, 0, o.LogitScale, w.Contrastive)
	// The labels are text[:, 1:N], taken from the ids Forward put on the
	// backend when its graph still holds them (else copied there now); the
	// rest are pad (Forward).
	n := o.Logits.Dim(1) + 1
	ids := o.ids
	if !ids.Live() || ids.Shape()[1] != n || !samePrefix(ids.Host(), text, b, l, n) {
		ids = tensor.NewIDs(text, b, l)
		defer ids.Drop()
	}
	labels := ids.Columns(1, n)
	v := o.Logits.Dim(2)
	cap := tensor.Scale(tensor.CrossEntropyIDs(tensor.Reshape(o.Logits, b*(n-1), v), labels, m.Config.Text.PadID), w.Caption)
	labels.Drop()
	return Losses{Total: tensor.Add(con, cap), Contrastive: con, Caption: cap}
}
