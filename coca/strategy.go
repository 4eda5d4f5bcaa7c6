package coca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gococa/gococa/tensor"
)

// Generation strategies (GenerateOptions.Strategy).
const (
	StrategyGreedy = "greedy" // argmax of the next-token logits
	StrategyBeam   = "beam"   // beam search with HF's BeamSearchScorer rules
	StrategyTopK   = "top-k"  // sample among the TopK most likely tokens
	StrategyTopP   = "top-p"  // sample from the nucleus holding TopP of the probability
)

// OpenCLIPGenerateOptions are open_clip's CoCa.generate defaults: beam
// search with 6 beams, seq_len 30 including the start token, min_seq_len 5,
// length penalty 1.
var OpenCLIPGenerateOptions = GenerateOptions{MaxLen: 30, MinLen: 5, Start: StartOfText, End: EndOfText,
	Strategy: StrategyBeam, Beams: 6, LengthPenalty: 1}

// resolve applies the defaults and checks the options against a vocabulary
// of v tokens and the context length ctx.
func (o GenerateOptions) resolve(v, ctx int) (GenerateOptions, error) {
	o = o.withDefaults(ctx)
	if o.Strategy == "" {
		o.Strategy = StrategyGreedy
	}
	switch o.Strategy {
	case StrategyGreedy:
	case StrategyBeam:
		if o.Beams == 0 {
			o.Beams = 6
		}
		if o.Beams < 1 {
			return o, fmt.Errorf("coca: generate: %d beams (want at least 1)", o.Beams)
		}
	case StrategyTopK:
		if o.TopK == 0 {
			o.TopK = 50
		}
		if o.TopK < 1 {
			return o, fmt.Errorf("coca: generate: top-k %d (want at least 1)", o.TopK)
		}
	case StrategyTopP:
		if o.TopP == 0 {
			o.TopP = 0.9
		}
		if !(o.TopP > 0 && o.TopP <= 1) {
			return o, fmt.Errorf("coca: generate: top-p %g (want 0 < p ≤ 1)", o.TopP)
		}
		if o.TopK < 0 {
			return o, fmt.Errorf("coca: generate: top-k %d (want ≥ 0)", o.TopK)
		}
	default:
		return o, fmt.Errorf("coca: generate: unknown strategy %q (want %s, %s, %s or %s)", o.Strategy, StrategyGreedy, StrategyBeam, StrategyTopK, StrategyTopP)
	}
	if o.Temperature == 0 {
		o.Temperature = 1
	}
	if !(o.Temperature > 0) || math.IsInf(o.Temperature, 0) {
		return o, fmt.Errorf("coca: generate: temperature %g (want > 0)", o.Temperature)
	}
	if o.RepetitionPenalty == 0 {
		o.RepetitionPenalty = 1
	}
	if !(o.RepetitionPenalty > 0) || math.IsInf(o.RepetitionPenalty, 0) {
		return o, fmt.Errorf("coca: generate: repetition penalty %g (want > 0)", o.RepetitionPenalty)
	}
	if math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0) {
		return o, fmt.Errorf("coca: generate: length penalty %g", o.LengthPenalty)
	}
	if o.Start < 0 || o.Start >= v {
		return o, fmt.Errorf("coca: generate: start token %d outside the vocabulary [0, %d)", o.Start, v)
	}
	if o.End >= v {
		return o, fmt.Errorf("coca: generate: end token %d outside the vocabulary [0, %d)", o.End, v)
	}
	if o.MinLen < 0 {
		return o, fmt.Errorf("coca: generate: min length %d < 0", o.MinLen)
	}
	return o, nil
}

// CheckGenerateOptions reports whether Generate would accept o for m.
func (m *Model) CheckGenerateOptions(o GenerateOptions) error {
	_, err := o.resolve(m.Config.Multimodal.VocabSize, m.Config.Text.ContextLength)
	return err
}

// stepSource feeds one token per row and returns the next-token logits
// (rows × V); Reorder makes row i a copy of former row src[i]. The cached
// Decoder is one; fullSource recomputes every prefix.
type stepSource interface {
	Step(tokens []int) []float32
	Reorder(src []int)
}

// Generate captions images (B, 3, S, S) with the strategy in o. Each
// caption starts with the start token and ends with the end token when
// one was produced; rows stop separately, never past MaxLen tokens (itself
// capped at the context length). Invalid options are an error.
func (m *Model) Generate(images *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	defer tensor.NoGrad()()
	if _, err := o.resolve(m.Config.Multimodal.VocabSize, m.Config.Text.ContextLength); err != nil {
		return nil, err
	}
	_, tokens := m.Visual.Forward(images)
	return m.GenerateFromTokens(tokens, o)
}

// GenerateFromTokens is Generate from image tokens (B, T, D), decoding with
// the KV-cached Decoder.
func (m *Model) GenerateFromTokens(imageTokens *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	defer tensor.NoGrad()()
	o, err := o.resolve(m.Config.Multimodal.VocabSize, m.Config.Text.ContextLength)
	if err != nil {
		return nil, err
	}
	return m.generate(m.NewDecoder(imageTokens, o.MaxLen), imageTokens.Dim(0), o), nil
}

// GenerateReference is Generate without the KV cache: every step
// recomputes the whole prefix through the text tower and the multimodal
// decoder. It is slow and exists to check the cached path.
func (m *Model) GenerateReference(images *tensor.Tensor, o GenerateOptions) ([][]int, error) {
	defer tensor.NoGrad()()
	o, err := o.resolve(m.Config.Multimodal.VocabSize, m.Config.Text.ContextLength)
	if err != nil {
		return nil, err
	}
	_, tokens := m.Visual.Forward(images)
	b := tokens.Dim(0)
	src := &fullSource{m: m, rows: b, img: append([]float32(nil), tokens.Data()...), t: tokens.Dim(1), dim: tokens.Dim(2), seqs: make([][]int, b)}
	return m.generate(src, b, o), nil
}

func (m *Model) generate(src stepSource, b int, o GenerateOptions) [][]int {
	if o.Strategy == StrategyBeam {
		return m.beamSearch(src, b, o)
	}
	return m.rowwise(src, b, o)
}

// rowwise runs greedy decoding or sampling: each row picks its next token
// from its own logits. Finished rows are dropped from the source.
func (m *Model) rowwise(src stepSource, b int, o GenerateOptions) [][]int {
	v := m.Config.Multimodal.VocabSize
	seqs := make([][]int, b)
	rows := make([]int, b) // the image of each source row
	next := make([]int, b)
	rngs := make([]*rand.Rand, b)
	for i := range seqs {
		seqs[i] = []int{o.Start}
		rows[i] = i
		next[i] = o.Start
		rngs[i] = rand.New(rand.NewPCG(o.Seed, uint64(o.RowOffset+i)))
	}
	var s sampler
	for step := 1; step < o.MaxLen && len(rows) > 0; step++ {
		logits := src.Step(next)
		var keep []int
		var keepRows []int
		for r, img := range rows {
			row := logits[r*v : (r+1)*v]
			o.process(row, seqs[img])
			var t int
			if o.Strategy == StrategyGreedy {
				t = argmax(row)
			} else {
				t = s.sample(row, o, rngs[img])
			}
			seqs[img] = append(seqs[img], t)
			if t != o.End {
				keep = append(keep, r)
				keepRows = append(keepRows, img)
			}
		}
		if len(keep) == 0 || step+1 >= o.MaxLen {
			break
		}
		if len(keep) != len(rows) {
			src.Reorder(keep)
		}
		rows = keepRows
		next = next[:len(rows)]
		for r, img := range rows {
			next[r] = seqs[img][len(seqs[img])-1]
		}
	}
	return seqs
}

// process applies the repetition penalty for the tokens of seq and, while
// seq is shorter than MinLen, suppresses the end token.
func (o *GenerateOptions) process(row []float32, seq []int) {
	if p := float32(o.RepetitionPenalty); p != 1 {
		for i, t := range seq {
			if t < 0 || t >= len(row) || slices.Contains(seq[:i], t) {
				continue
			}
			if row[t] < 0 {
				row[t] *= p
			} else {
				row[t] /= p
			}
		}
	}
	if o.End >= 0 && len(seq) < o.MinLen {
		row[o.End] = float32(math.Inf(-1))
	}
}

// sampler holds scratch space for sampling.
type sampler struct {
	idx  []int
	vals []float32
	p    []float64
}

// sample draws a token from row after open_clip's warpers: top-k keeps the
// tokens whose logit is at least the k-th largest; top-p (HF's
// TopPLogitsWarper) drops, in ascending order, the tokens whose cumulative
// probability stays ≤ 1 − p, always keeping the most likely one; then the
// kept logits are divided by the temperature and the token is drawn from
// their softmax.
func (s *sampler) sample(row []float32, o GenerateOptions, rng *rand.Rand) int {
	inf := float32(math.Inf(-1))
	if o.TopK > 0 && o.TopK < len(row) {
		s.vals = append(s.vals[:0], row...)
		slices.Sort(s.vals)
		thr := s.vals[len(s.vals)-o.TopK]
		for i, x := range row {
			if x < thr {
				row[i] = inf
			}
		}
	}
	if o.Strategy == StrategyTopP && o.TopP < 1 {
		s.idx = s.idx[:0]
		for i := range row {
			s.idx = append(s.idx, i)
		}
		slices.SortStableFunc(s.idx, func(a, b int) int {
			switch {
			case row[a] < row[b]:
				return -1
			case row[a] > row[b]:
				return 1
			}
			return 0
		})
		probs := s.softmax(row, 1)
		cum := 0.0
		for j, i := range s.idx[:len(s.idx)-1] {
			cum += probs[i]
			if cum > 1-o.TopP {
				break
			}
			row[s.idx[j]] = inf
		}
	}
	probs := s.softmax(row, o.Temperature)
	u := rng.Float64()
	cum := 0.0
	last := 0
	for i, p := range probs {
		if p == 0 {
			continue
		}
		cum += p
		last = i
		if u < cum {
			return i
		}
	}
	return last
}

// softmax returns softmax(row/temperature) in float64 (scratch space).
func (s *sampler) softmax(row []float32, temperature float64) []float64 {
	if cap(s.p) < len(row) {
		s.p = make([]float64, len(row))
	}
	p := s.p[:len(row)]
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	sum := 0.0
	for i, x := range row {
		p[i] = math.Exp((float64(x) - mx) / temperature)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
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

func (f *fullSource) Step(tokens []int) []float32 {
	defer tensor.NoGrad()()
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
	_, tok := f.m.Text.Forward(ids, f.rows, l)
	logits := f.m.TextDecoder.Forward(tok, tensor.FromSlice(f.img, f.rows, f.t, f.dim))
	v := logits.Dim(2)
	d := logits.Data()
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
