package coca

import (
	"fmt"
	"slices"

	"github.com/gococa/gococa/coca/generate"
	"github.com/gococa/gococa/tensor"
)

// Generation is done by package generate's strategies, driven by the
// model's step function (the KV-cached Decoder, or fullSource without a
// cache); the names below are theirs.

// GenerateOptions control caption generation (see generate.Options).
type GenerateOptions = generate.Options

// Generation is what one Generate call produced, with what open_clip's
// generate() returns (see generate.Result).
type Generation = generate.Result

// Generation strategies (GenerateOptions.Strategy): see package generate.
const (
	StrategyGreedy      = generate.Greedy
	StrategyBeam        = generate.Beam
	StrategyBeamLogProb = generate.BeamLogProb
	StrategyTopK        = generate.TopK
	StrategyTopP        = generate.TopP
)

// CLIP tokenizer ids used by generation defaults.
const (
	StartOfText = generate.StartOfText
	EndOfText   = generate.EndOfText
)

// OpenCLIPGenerateOptions are open_clip's CoCa.generate defaults (see
// generate.OpenCLIP).
var OpenCLIPGenerateOptions = generate.OpenCLIP

// CheckGenerateOptions reports whether Generate would accept o for m.
func (m *Model) CheckGenerateOptions(o GenerateOptions) error {
	_, err := m.resolveGenerate(o)
	return err
}

func (m *Model) resolveGenerate(o GenerateOptions) (GenerateOptions, error) {
	return o.Resolve(m.vocab(), m.maxGenerateLen(), m.Config.PadID)
}

// Generate captions images (B, 3, S, S) with the strategy in o. Each
// caption starts with the start token and ends with the end token when
// one closed it; rows stop separately, never past MaxLen tokens (itself
// capped at the context length). Invalid options are an error.
func (m *Model) Generate(images *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	g, err := m.GenerateOutput(images, o)
	if err != nil {
		return nil, err
	}
	return g.Tokens, nil
}

// GenerateOutput is Generate returning the whole Generation: the rows,
// how each ended, and the shape of open_clip's output tensor.
func (m *Model) GenerateOutput(images *tensor.Tensor, o GenerateOptions) (*Generation, error) {
	o, err := m.resolveGenerate(o)
	if err != nil {
		return nil, err
	}
	dec := m.imageDecoder(images, o.MaxLen)
	defer dec.Close()
	return generate.Run(dec, dec.Rows(), m.vocab(), o), nil
}

// imageDecoder encodes images and starts a Decoder on their tokens, which
// stay where they were computed: under a device backend they never visit
// the host (EncodeImage would copy them there and NewDecoder back).
func (m *Model) imageDecoder(images *tensor.Tensor, maxLen int) *Decoder {
	s, end := scopeFor(images)
	defer end()
	f, tok := m.encodeImage(s, images)
	tensor.Drop(f)
	dec := m.NewDecoder(tok, maxLen)
	tensor.Drop(tok)
	return dec
}

// GenerateFromTokens is Generate from image tokens (B, T, D), decoding with
// the KV-cached Decoder.
func (m *Model) GenerateFromTokens(imageTokens *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	o, err := m.resolveGenerate(o)
	if err != nil {
		return nil, err
	}
	dec := m.NewDecoder(imageTokens, o.MaxLen)
	defer dec.Close()
	return generate.Run(dec, imageTokens.Dim(0), m.vocab(), o).Tokens, nil
}

// GenerateReference is Generate without the KV cache: every step
// recomputes the whole prefix through the text tower and the multimodal
// decoder. It is slow and exists to check the cached path.
func (m *Model) GenerateReference(images *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	o, err := m.resolveGenerate(o)
	if err != nil {
		return nil, err
	}
	_, tokens := m.EncodeImage(images)
	return generate.Run(newFullSource(m, tokens), tokens.Dim(0), m.vocab(), o).Tokens, nil
}

// fullSource computes each step's logits by running the whole prefix of
// every row through the text tower and the multimodal decoder.
type fullSource struct {
	m      *Model
	rows   int
	img    []float32 // (rows, t, dim) image tokens
	t, dim int
	seqs   [][]int
	logits []float32
}

// newFullSource starts an uncached decoding of image tokens (B, T, D),
// one row per image (the tokens are kept).
func newFullSource(m *Model, tokens *tensor.Tensor) *fullSource {
	b := tokens.Dim(0)
	return &fullSource{m: m, rows: b, img: tokens.Data(), t: tokens.Dim(1), dim: tokens.Dim(2), seqs: make([][]int, b)}
}

func (f *fullSource) Step(tokens []int) []float32 {
	sc := tensor.NoGrad()
	defer sc.End()
	if len(tokens) != f.rows {
		panic(fmt.Sprintf("coca: fullSource.Step: %d tokens for %d rows", len(tokens), f.rows))
	}
	for i, t := range tokens {
		f.seqs[i] = append(f.seqs[i], t)
	}
	l := len(f.seqs[0])
	ids := make([]int, 0, f.rows*l)
	for _, s := range f.seqs {
		ids = append(ids, s...)
	}
	lat, tok := f.m.Text.forward(sc, ids, f.rows, l)
	logits := f.m.TextDecoder.Forward(tok, sc.Use(tensor.FromSlice(f.img, f.rows, f.t, f.dim)))
	defer tensor.Drop(lat, tok, logits)
	v := logits.Dim(2)
	d := tensor.HostValues(logits, nil) // one copy from a device
	f.logits = f.logits[:0]
	for i := 0; i < f.rows; i++ {
		f.logits = append(f.logits, d[(i*l+l-1)*v:(i*l+l)*v]...)
	}
	return f.logits
}

func (f *fullSource) Reorder(src []int) {
	per := f.t * f.dim
	img := make([]float32, len(src)*per)
	seqs := make([][]int, len(src))
	for i, s := range src {
		copy(img[i*per:(i+1)*per], f.img[s*per:(s+1)*per])
		seqs[i] = slices.Clone(f.seqs[s])
	}
	f.img, f.seqs, f.rows = img, seqs, len(src)
}
