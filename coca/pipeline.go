package coca

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gococa/gococa/coca/generate"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// Pipeline is a loaded model with everything needed to use it on images
// and strings: its tokenizer, start and end tokens, and open_clip's image
// preprocessing. Open makes one; its methods caption, embed, classify and
// score.
//
// A Pipeline holds no mutable state: nothing it owns changes after Open,
// and every call keeps its buffers to itself, so its methods may be called
// from any number of goroutines at once, as the Model's inference methods
// may (see the package documentation on concurrency). Every method takes a context, checked
// between batches and, when captioning, between decoding steps: a
// cancelled call returns the context's error.
type Pipeline struct {
	model      *Model
	tok        *tokenizer.Tokenizer
	start, end int
	capErr     error // why captions cannot be made, or nil
	textErr    error // why texts cannot be encoded, or nil
	textual    bool  // the tokenizer's vocabulary is the decoder's: captions decode to text
	info       Info
	imageBatch int
	textBatch  int
}

// Info describes what Open found.
type Info struct {
	Path      string // the weights file
	Format    string // FormatSafetensors or FormatPyTorch
	Config    string // where the config came from
	Tokenizer string // "clip" or the file (or checkpoint) the merges came from
	Weights   string // "f32", "bf16" or "int8"
	Precision string // of the products: "f32" or "bf16" (WithPrecision)
}

// OpenOption configures Open.
type OpenOption func(*openOptions)

type openOptions struct {
	config, tokenizer     string
	bf16, int8            bool
	precision             tensor.Precision
	tokens                bool
	start, end            int
	imageBatch, textBatch int
}

// WithConfig sets the model config, a built-in name (coca_ViT-B-32,
// coca_ViT-L-14, ...) or an open_clip model-config JSON file, instead of
// the one Open finds.
func WithConfig(nameOrPath string) OpenOption {
	return func(o *openOptions) { o.config = nameOrPath }
}

// WithTokenizer sets the tokenizer: "clip" or a BPE merges file.
func WithTokenizer(nameOrPath string) OpenOption {
	return func(o *openOptions) { o.tokenizer = nameOrPath }
}

// WithSpecialTokens sets the start and end tokens of captions (end -1:
// captions never end early), for a model whose vocabulary is neither its
// tokenizer's nor CLIP's.
func WithSpecialTokens(start, end int) OpenOption {
	return func(o *openOptions) { o.tokens, o.start, o.end = true, start, end }
}

// WithBF16 keeps the text stacks' weights in bfloat16 (see LoadBF16): half
// their memory, and faster captioning, for outputs within bfloat16
// rounding of the float32 model's.
func WithBF16() OpenOption { return func(o *openOptions) { o.bf16 = true } }

// WithInt8 keeps the text stacks' weights in int8 with a scale per output
// (see Model.QuantizeInt8): a quarter of their float32 memory, and faster
// captioning than WithBF16, for outputs within that quantization of the
// float32 model's. The checkpoint is read in float32 first. Open fails
// under a backend that cannot hold int8 weights (a device) or with
// WithBF16.
func WithInt8() OpenOption { return func(o *openOptions) { o.int8 = true } }

// WithPrecision sets the precision of the model's products (see
// Model.SetPrecision): tensor.PrecisionBF16 takes them in bfloat16 with
// float32 sums, about twice as fast where the CPU has AVX512_BF16 (and
// the same numbers, no faster, where it has not: asm.HasBF16), for
// outputs within bfloat16 rounding of float32's. It combines with
// WithBF16. Open fails when the backend cannot take such products.
func WithPrecision(p tensor.Precision) OpenOption {
	return func(o *openOptions) { o.precision = p }
}

// WithBatchSize sets how many images (default 8) and texts (default 64)
// go through the model at once.
func WithBatchSize(images, texts int) OpenOption {
	return func(o *openOptions) { o.imageBatch, o.textBatch = images, texts }
}

// LoadError is Open's error when a checkpoint's tensors do not fit the
// config: Err lists every missing, unexpected and mis-shaped tensor.
type LoadError struct {
	Config string // the config's name or origin
	Hint   string // the built-in config the tensor shapes match, if another
	Err    error
}

func (e *LoadError) Error() string {
	s := e.Err.Error() + "\n  (config " + e.Config + ")"
	if e.Hint != "" {
		s += "\n  its tensor shapes are those of the built-in config " + e.Hint
	}
	return s
}

func (e *LoadError) Unwrap() error { return e.Err }

// Open loads a model for use: path is anything OpenCheckpoint accepts (a
// .safetensors or PyTorch file, a coca train run directory, a Hugging Face
// hub snapshot or cache folder; ResolvePretrained finds the published
// checkpoints). The config is the one the checkpoint stores or that lies
// beside it, else the built-in its tensor shapes show (Checkpoint.Config);
// the tokenizer is the one stored with it or tokenizer.txt beside it, else
// CLIP's; captions start and end with the tokenizer's start and end tokens
// (CLIP's for a 49408-token model). Options override each.
func Open(path string, opts ...OpenOption) (*Pipeline, error) {
	o := openOptions{imageBatch: 8, textBatch: 64}
	for _, f := range opts {
		f(&o)
	}
	if o.imageBatch < 1 || o.textBatch < 1 {
		return nil, fmt.Errorf("coca: open: batch sizes %d images and %d texts (want at least 1)", o.imageBatch, o.textBatch)
	}
	if err := tensor.CheckPrecision(o.precision); err != nil {
		return nil, fmt.Errorf("coca: open %s: %w", path, err)
	}
	if o.int8 {
		if o.bf16 {
			return nil, fmt.Errorf("coca: open %s: WithInt8 and WithBF16 both set the weights: give one", path)
		}
		if err := tensor.CheckInt8(); err != nil {
			return nil, fmt.Errorf("coca: open %s: %w", path, err)
		}
	}
	ck, err := OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	var cfg *Config
	origin := o.config
	if o.config != "" {
		cfg, err = ResolveConfig(o.config)
	} else {
		cfg, origin, err = ck.Config()
	}
	if err != nil {
		return nil, err
	}
	m := New(cfg)
	// The precision first: with bfloat16 products LoadBF16 reads the
	// vision tower's matrices straight into 16 bits (see bf16.go).
	if err := m.SetPrecision(o.precision); err != nil {
		return nil, err
	}
	load, weights := m.Load, "f32"
	if o.bf16 {
		load, weights = m.LoadBF16, "bf16"
	}
	if err := load(ck.Source(), ck.Path); err != nil {
		le := &LoadError{Config: origin, Err: err}
		if strings.Contains(err.Error(), "does not match the model") {
			if hint, name, herr := DetectConfig(ck.Source()); herr == nil && sigOf(hint) != sigOf(cfg) {
				le.Hint = name
			}
		}
		return nil, le
	}
	if o.int8 {
		weights = "int8"
		if err := m.QuantizeInt8(); err != nil {
			return nil, err
		}
	}
	var tok *tokenizer.Tokenizer
	tokFrom := o.tokenizer
	if o.tokenizer != "" && o.tokenizer != "auto" {
		tok, err = LoadTokenizer(o.tokenizer)
	} else {
		tok, tokFrom, err = ck.Tokenizer()
	}
	if err != nil {
		return nil, err
	}
	p := &Pipeline{model: m, tok: tok, imageBatch: o.imageBatch, textBatch: o.textBatch,
		info: Info{Path: ck.Path, Format: ck.Format, Config: origin, Tokenizer: tokFrom, Weights: weights, Precision: o.precision.String()}}
	v := m.vocab()
	p.textual = tok.VocabSize() == v
	switch {
	case o.tokens:
		p.start, p.end = o.start, o.end
		if o.start < 0 || o.start >= v || o.end < -1 || o.end >= v {
			return nil, fmt.Errorf("coca: open %s: start token %d or end token %d outside the model's vocabulary of %d", path, o.start, o.end, v)
		}
	case p.textual:
		p.start, p.end = tok.SOT(), tok.EOT()
	case v == 49408:
		p.start, p.end = StartOfText, EndOfText
	default:
		p.capErr = fmt.Errorf("coca: %s: the model's vocabulary has %d tokens, not CLIP's 49408, and its tokenizer (%s) has %d: give its start and end tokens (WithSpecialTokens) or the tokenizer it was trained with", ck.Path, v, tokFrom, tok.VocabSize())
	}
	if n := tok.VocabSize(); n > cfg.Text.VocabSize {
		p.textErr = fmt.Errorf("coca: %s: the tokenizer (%s) has %d tokens but the model's vocabulary has %d: give the tokenizer the model was trained with", ck.Path, tokFrom, n, cfg.Text.VocabSize)
	}
	return p, nil
}

// Model returns the model. Changing its parameters changes the Pipeline's
// results; the Pipeline never changes them.
func (p *Pipeline) Model() *Model { return p.model }

// Tokenizer returns the tokenizer.
func (p *Pipeline) Tokenizer() *tokenizer.Tokenizer { return p.tok }

// Info describes what Open found.
func (p *Pipeline) Info() Info { return p.info }

// SpecialTokens returns the start and end tokens of captions, or the
// reason captions cannot be made (a vocabulary that is neither the
// tokenizer's nor CLIP's, without WithSpecialTokens).
func (p *Pipeline) SpecialTokens() (start, end int, err error) { return p.start, p.end, p.capErr }

// TextError returns why texts cannot be encoded (a tokenizer with more
// tokens than the model's vocabulary), or nil.
func (p *Pipeline) TextError() error { return p.textErr }

// CaptionOption configures Caption and CaptionBatch.
type CaptionOption func(*captionOptions)

type captionOptions struct {
	gen     GenerateOptions
	genSet  bool
	n       int
	prefix  string
	embed   bool
	logProb bool
}

// WithGenerateOptions sets the decoding (default OpenCLIPGenerateOptions).
// Start and End, when both zero, are the pipeline's; Prefix holds token
// ids (WithPrefix takes text).
func WithGenerateOptions(o GenerateOptions) CaptionOption {
	return func(c *captionOptions) { c.gen, c.genSet = o, true }
}

// WithNBest asks for n captions per image, best first: beam search's n best
// hypotheses (n at most the beams), or n samples for top-k and top-p
// (sample s of image i draws from the stream of row (RowOffset+i)·n+s).
// Greedy decoding has one.
func WithNBest(n int) CaptionOption { return func(c *captionOptions) { c.n = n } }

// WithPrefix makes every caption start with text (a prompt), which the
// captions include.
func WithPrefix(text string) CaptionOption { return func(c *captionOptions) { c.prefix = text } }

// WithEmbedding adds each image's normalised embedding to the results
// (computed in the same pass as the captions).
func WithEmbedding() CaptionOption { return func(c *captionOptions) { c.embed = true } }

// WithLogProb adds each caption's log-likelihood (as Score computes it) to
// the results.
func WithLogProb() CaptionOption { return func(c *captionOptions) { c.logProb = true } }

// Caption is one generated caption.
type Caption struct {
	// Text is the caption: the text between the start and end tokens,
	// spaces trimmed, as open_clip decodes it; for a model whose vocabulary
	// is not its tokenizer's, the token ids after the start token, up to the
	// end token, separated by spaces.
	Text string
	// Tokens are the generated ids: the start token, the caption (prefix
	// included) and the end token when one was generated.
	Tokens []int
	// LogProb is the caption's log-likelihood (WithLogProb; see
	// CaptionScore).
	LogProb float64
}

// CaptionResult is what CaptionBatch returns for one image.
type CaptionResult struct {
	Captions  []Caption // best first
	Embedding []float32 // the normalised image embedding (WithEmbedding), or nil
}

// Caption captions one image with open_clip's decoding (see
// OpenCLIPGenerateOptions) unless options say otherwise, and returns the
// best caption's text.
func (p *Pipeline) Caption(ctx context.Context, img image.Image, opts ...CaptionOption) (string, error) {
	res, err := p.CaptionBatch(ctx, []image.Image{img}, opts...)
	if err != nil {
		return "", err
	}
	return res[0].Captions[0].Text, nil
}

// CaptionBatch captions images, a batch at a time (WithBatchSize), and
// returns one result per image, in order. A caption depends only on its
// image and the options, never on the batching.
func (p *Pipeline) CaptionBatch(ctx context.Context, imgs []image.Image, opts ...CaptionOption) ([]CaptionResult, error) {
	c := captionOptions{n: 1}
	for _, f := range opts {
		f(&c)
	}
	o, err := p.generateOptions(&c)
	if err != nil {
		return nil, err
	}
	m := p.model
	out := make([]CaptionResult, 0, len(imgs))
	for b0 := 0; b0 < len(imgs); b0 += p.imageBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		group := imgs[b0:min(b0+p.imageBatch, len(imgs))]
		x, err := p.pixels(group, b0)
		if err != nil {
			return nil, err
		}
		feats, tokens := p.encodeImages(x)
		ob := o
		ob.RowOffset = o.RowOffset + b0
		seqs, err := m.generateN(ctx, tokens, ob, c.n)
		if err != nil {
			return nil, err
		}
		t, d := tokens.Dim(1), tokens.Dim(2)
		img := tokens.Data()
		for i := range group {
			var r CaptionResult
			var scores []CaptionScore
			if c.logProb {
				if scores, err = m.scoreSeqs(img[i*t*d:(i+1)*t*d], t, d, seqs[i]); err != nil {
					return nil, err
				}
			}
			for j, s := range seqs[i] {
				c := Caption{Text: p.captionText(s), Tokens: s}
				if scores != nil {
					c.LogProb = scores[j].LogProb
				}
				r.Captions = append(r.Captions, c)
			}
			if c.embed {
				e := feats.Dim(1)
				r.Embedding = append([]float32(nil), feats.Data()[i*e:(i+1)*e]...)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// generateOptions resolves the decoding options of a call.
func (p *Pipeline) generateOptions(c *captionOptions) (GenerateOptions, error) {
	o := OpenCLIPGenerateOptions
	if c.genSet {
		o = c.gen
		o.Prefix = append([]int(nil), o.Prefix...)
	}
	if !c.genSet || (o.Start == 0 && o.End == 0) {
		if p.capErr != nil {
			return o, p.capErr
		}
		o.Start, o.End = p.start, p.end
	}
	if c.prefix != "" {
		if !p.textual {
			return o, fmt.Errorf("coca: caption: a text prefix needs the model's tokenizer (its vocabulary has %d tokens, the tokenizer %d)", p.model.vocab(), p.tok.VocabSize())
		}
		o.Prefix = append(o.Prefix, p.tok.Encode(c.prefix)...)
	}
	r, err := p.model.resolveGenerate(o)
	if err != nil {
		return o, err
	}
	switch {
	case c.n < 1:
		return r, fmt.Errorf("coca: caption: %d captions per image (want at least 1)", c.n)
	case c.n > 1 && r.Strategy == StrategyGreedy:
		return r, fmt.Errorf("coca: caption: greedy decoding makes one caption per image, not %d (use beam search or sampling)", c.n)
	case c.n > 1 && (r.Strategy == StrategyBeam || r.Strategy == StrategyBeamLogProb) && c.n > r.Beams/r.BeamGroups:
		return r, fmt.Errorf("coca: caption: %d captions from a search of %d beams (Beams/BeamGroups; want at most as many captions as beams)", c.n, r.Beams/r.BeamGroups)
	}
	return r, nil
}

// captionText decodes a generated sequence.
func (p *Pipeline) captionText(seq []int) string {
	if p.textual {
		return strings.TrimSpace(p.tok.Decode(p.tok.TrimSpecial(seq)))
	}
	var parts []string
	for _, id := range seq[1:] {
		if id == p.end {
			break
		}
		parts = append(parts, strconv.Itoa(id))
	}
	return strings.Join(parts, " ")
}

// TokenText returns how a token reads in a caption (its text, spaces
// trimmed), or its id for a model whose vocabulary is not its tokenizer's.
func (p *Pipeline) TokenText(id int) string {
	if !p.textual {
		return strconv.Itoa(id)
	}
	return strings.TrimSpace(p.tok.Decode([]int{id}))
}

// pixels preprocesses images (open_clip's eval transform) into (N, 3, S, S),
// in parallel. first is the index of images[0] in the caller's list, for
// errors.
func (p *Pipeline) pixels(images []image.Image, first int) (*tensor.Tensor, error) {
	size := p.model.Config.Vision.ImageSize
	for i, img := range images {
		if img == nil {
			return nil, fmt.Errorf("coca: image %d is nil", first+i)
		}
		if img.Bounds().Empty() {
			return nil, fmt.Errorf("coca: image %d has no pixels (bounds %v)", first+i, img.Bounds())
		}
	}
	per := 3 * size * size
	buf := make([]float32, len(images)*per)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(images)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				data.PreprocessInto(buf[i*per:(i+1)*per], images[i], size)
			}
		}()
	}
	for i := range images {
		next <- i
	}
	close(next)
	wg.Wait()
	return tensor.FromSlice(buf, len(images), 3, size, size), nil
}

// encodeImages returns the normalised features (B, D) and image tokens
// (B, T, D) of preprocessed images.
func (p *Pipeline) encodeImages(x *tensor.Tensor) (feats, tokens *tensor.Tensor) {
	return p.model.EncodeImage(x)
}

// Embed returns the normalised embeddings of images, one row of
// Config.EmbedDim values per image.
func (p *Pipeline) Embed(ctx context.Context, imgs ...image.Image) ([][]float32, error) {
	out := make([][]float32, 0, len(imgs))
	for b0 := 0; b0 < len(imgs); b0 += p.imageBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		group := imgs[b0:min(b0+p.imageBatch, len(imgs))]
		x, err := p.pixels(group, b0)
		if err != nil {
			return nil, err
		}
		f := p.model.EncodeImageFeatures(x)
		out = append(out, rows(f.Data(), f.Dim(1))...)
	}
	return out, nil
}

// EmbedTexts returns the normalised embeddings of texts (tokenized as
// open_clip does, cut at the context length), one row per text.
func (p *Pipeline) EmbedTexts(ctx context.Context, texts ...string) ([][]float32, error) {
	if p.textErr != nil {
		return nil, p.textErr
	}
	l := p.model.Config.Text.ContextLength
	tokenize := func(s string) []int { return p.tok.Tokenize(s, l) }
	out := make([][]float32, 0, len(texts))
	// A batch at a time (EncodeTexts), so that a cancellation is seen
	// between batches.
	for b0 := 0; b0 < len(texts); b0 += p.textBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := p.model.EncodeTexts(texts[b0:min(b0+p.textBatch, len(texts))], tokenize, p.textBatch)
		if err != nil {
			return nil, err
		}
		out = append(out, rows(f.Data(), f.Dim(1))...)
	}
	return out, nil
}

// rows splits (N, D) values into N rows of their own.
func rows(v []float32, d int) [][]float32 {
	out := make([][]float32, len(v)/d)
	for i := range out {
		out[i] = append([]float32(nil), v[i*d:(i+1)*d]...)
	}
	return out
}

// Prediction is a class and its zero-shot probability.
type Prediction struct {
	Class string
	Index int // the class's index in the list given
	Prob  float32
}

// Classifier is a zero-shot classifier over a set of classes (see
// Pipeline.NewClassifier). It holds no mutable state.
type Classifier struct {
	p       *Pipeline
	classes []string
	weights *tensor.Tensor // (C, D)
}

// Classify classifies one image among classes zero-shot (see
// NewClassifier) and returns every class, most probable first.
func (p *Pipeline) Classify(ctx context.Context, img image.Image, classes []string, templates ...string) ([]Prediction, error) {
	c, err := p.NewClassifier(ctx, classes, templates...)
	if err != nil {
		return nil, err
	}
	res, err := c.Classify(ctx, img)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// NewClassifier builds a zero-shot classifier as open_clip does: each
// class's weights are the average text embedding of the templates with
// "{}" replaced by the class name, normalised. Without templates it uses
// OpenAI's 80 ImageNet prompts (OpenAIImageNetTemplates); the template "{}"
// uses the class names as they are.
func (p *Pipeline) NewClassifier(ctx context.Context, classes []string, templates ...string) (*Classifier, error) {
	if p.textErr != nil {
		return nil, p.textErr
	}
	if len(templates) == 0 {
		templates = OpenAIImageNetTemplates
	}
	for _, t := range templates {
		if !strings.Contains(t, "{}") {
			return nil, fmt.Errorf("coca: zero-shot: template %q has no {} for the class name", t)
		}
	}
	if len(classes) == 0 {
		return nil, errors.New("coca: zero-shot: no classes")
	}
	l := p.model.Config.Text.ContextLength
	tokenize := func(s string) []int { return p.tok.Tokenize(s, l) }
	// Classes a chunk at a time, so that a cancellation is seen between
	// chunks; each class's weights depend only on its own texts.
	per := max(1, 256/len(templates))
	w := make([]float32, 0, len(classes)*p.model.Config.EmbedDim)
	for c0 := 0; c0 < len(classes); c0 += per {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cw, err := p.model.ClassEmbeddings(classes[c0:min(c0+per, len(classes))], templates, tokenize, p.textBatch)
		if err != nil {
			return nil, err
		}
		w = append(w, cw.Data()...)
	}
	return &Classifier{p: p, classes: append([]string(nil), classes...),
		weights: tensor.FromSlice(w, len(classes), p.model.Config.EmbedDim)}, nil
}

// Classes returns the classes, in the order given.
func (c *Classifier) Classes() []string { return append([]string(nil), c.classes...) }

// Classify returns, for each image, every class with its probability,
// most probable first (equal probabilities in class order).
func (c *Classifier) Classify(ctx context.Context, imgs ...image.Image) ([][]Prediction, error) {
	feats, err := c.p.Embed(ctx, imgs...)
	if err != nil {
		return nil, err
	}
	return c.ClassifyEmbeddings(feats), nil
}

// ClassifyEmbeddings is Classify for normalised image embeddings (Embed's).
func (c *Classifier) ClassifyEmbeddings(feats [][]float32) [][]Prediction {
	if len(feats) == 0 {
		return nil
	}
	d := c.weights.Dim(1)
	flat := make([]float32, 0, len(feats)*d)
	for _, f := range feats {
		if len(f) != d {
			panic(fmt.Sprintf("coca: Classifier.ClassifyEmbeddings: embedding of %d values, want %d", len(f), d))
		}
		flat = append(flat, f...)
	}
	probs := c.p.model.ZeroShotProbs(tensor.FromSlice(flat, len(feats), d), c.weights)
	n := len(c.classes)
	out := make([][]Prediction, len(feats))
	for i := range feats {
		preds := make([]Prediction, n)
		for j := range preds {
			preds[j] = Prediction{Class: c.classes[j], Index: j, Prob: probs[i*n+j]}
		}
		sort.SliceStable(preds, func(a, b int) bool { return preds[a].Prob > preds[b].Prob })
		out[i] = preds
	}
	return out
}

// CaptionScore is a caption's log-likelihood under the model given an
// image: the sum, over the caption's tokens after the start token (the end
// token included), of the natural log of the probability the decoder gives
// each token after the ones before it.
type CaptionScore struct {
	LogProb float64
	Tokens  int // tokens scored
}

// Mean returns the log-likelihood per token.
func (s CaptionScore) Mean() float64 {
	if s.Tokens == 0 {
		return 0
	}
	return s.LogProb / float64(s.Tokens)
}

// Score returns the log-likelihood of each caption given the image (see
// CaptionScore): the caption tokenized as open_clip does, between the start
// and end tokens. A caption longer than the context length is an error.
func (p *Pipeline) Score(ctx context.Context, img image.Image, captions ...string) ([]CaptionScore, error) {
	if p.capErr != nil {
		return nil, p.capErr
	}
	if !p.textual {
		return nil, fmt.Errorf("coca: score: captions as text need the model's tokenizer (its vocabulary has %d tokens, the tokenizer %d); use ScoreTokens", p.model.vocab(), p.tok.VocabSize())
	}
	seqs := make([][]int, len(captions))
	for i, c := range captions {
		s := append([]int{p.start}, p.tok.Encode(c)...)
		if p.end >= 0 {
			s = append(s, p.end)
		}
		if l := p.model.Config.Text.ContextLength; len(s) > l {
			return nil, fmt.Errorf("coca: score: caption %d (%q) has %d tokens with the start and end tokens, more than the context length %d", i, c, len(s), l)
		}
		seqs[i] = s
	}
	return p.ScoreTokens(ctx, img, seqs...)
}

// ScoreTokens is Score for token sequences, each starting with the start
// token (as Caption.Tokens do).
func (p *Pipeline) ScoreTokens(ctx context.Context, img image.Image, seqs ...[]int) ([]CaptionScore, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x, err := p.pixels([]image.Image{img}, 0)
	if err != nil {
		return nil, err
	}
	_, tokens := p.encodeImages(x)
	out := make([]CaptionScore, 0, len(seqs))
	// Captions a text batch at a time.
	for c0 := 0; c0 < len(seqs); c0 += p.textBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := p.model.scoreSeqs(tokens.Data(), tokens.Dim(1), tokens.Dim(2), seqs[c0:min(c0+p.textBatch, len(seqs))])
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// scoreSeqs computes the log-likelihood of token sequences given one
// image's tokens img (T, D), teacher-forced through both text stacks at
// once, as the caption loss is.
func (m *Model) scoreSeqs(img []float32, t, d int, seqs [][]int) ([]CaptionScore, error) {
	v, ctxLen := m.vocab(), m.Config.Text.ContextLength
	l := 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("coca: score: sequence %d is empty (want the start token first)", i)
		}
		if len(s) > ctxLen {
			return nil, fmt.Errorf("coca: score: sequence %d has %d tokens, more than the context length %d", i, len(s), ctxLen)
		}
		for _, id := range s {
			if id < 0 || id >= v || id >= m.Config.Text.VocabSize {
				return nil, fmt.Errorf("coca: score: token %d of sequence %d outside the vocabulary", id, i)
			}
		}
		l = max(l, len(s))
	}
	out := make([]CaptionScore, len(seqs))
	if l < 2 {
		return out, nil
	}
	k := len(seqs)
	ids := make([]int, k*l)
	for i := range ids {
		ids[i] = m.Config.Text.PadID
	}
	rep := make([]float32, k*t*d)
	for i, s := range seqs {
		copy(ids[i*l:], s)
		copy(rep[i*t*d:], img)
	}
	sc := tensor.NoGrad()
	defer sc.End()
	lat, tok := m.Text.forward(sc, ids, k, l)
	in := tensor.Slice(tok, 1, 0, l-1)
	lt := m.TextDecoder.Forward(in, sc.Use(tensor.FromSlice(rep, k, t, d)))
	defer tensor.Drop(lat, tok, in, lt)
	logits := tensor.HostValues(lt, nil) // (k, l-1, V), one copy from a device
	for i, s := range seqs {
		for j := 0; j+1 < len(s); j++ {
			row := logits[(i*(l-1)+j)*v : (i*(l-1)+j+1)*v]
			out[i].LogProb += float64(row[s[j+1]]) - generate.LogSumExp(row)
		}
		out[i].Tokens = len(s) - 1
	}
	return out, nil
}

// canceled is the panic a cancelled decoding step raises; generateN
// recovers it.
type canceled struct{ err error }

// ctxSource checks its context before every decoding step.
type ctxSource struct {
	ctx context.Context
	src generate.Source
}

func (c ctxSource) Step(tokens []int) []float32 {
	if err := c.ctx.Err(); err != nil {
		panic(canceled{err})
	}
	return c.src.Step(tokens)
}

func (c ctxSource) Reorder(src []int) { c.src.Reorder(src) }

// generateN decodes n captions for each image of imageTokens (B, T, D)
// with the KV-cached decoder, checking ctx before every step.
func (m *Model) generateN(ctx context.Context, imageTokens *tensor.Tensor, o GenerateOptions, n int) (out [][][]int, err error) {
	o, err = m.resolveGenerate(o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(canceled)
			if !ok {
				panic(r)
			}
			out, err = nil, c.err
		}
	}()
	b := imageTokens.Dim(0)
	tokens := imageTokens
	if n > 1 && o.Strategy != StrategyBeam && o.Strategy != StrategyBeamLogProb {
		t, d := tokens.Dim(1), tokens.Dim(2)
		src := tokens.Data()
		rep := make([]float32, 0, b*n*t*d)
		for i := 0; i < b; i++ {
			for range n {
				rep = append(rep, src[i*t*d:(i+1)*t*d]...)
			}
		}
		tokens = tensor.FromSlice(rep, b*n, t, d)
		o.RowOffset *= n
	}
	dec := m.NewDecoder(tokens, o.MaxLen)
	defer dec.Close()
	return generate.RunN(ctxSource{ctx, dec}, b, m.vocab(), o, n), nil
}
