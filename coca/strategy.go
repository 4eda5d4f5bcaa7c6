package coca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gococa/gococa/tensor"
)

// Generation strategies (GenerateOptions.Strategy). Every strategy follows
// open_clip's CoCa.generate (2.29) with the Hugging Face pieces it uses
// (MinLengthLogitsProcessor, then RepetitionPenaltyLogitsProcessor; the
// top-k and top-p warpers; BeamSearchScorer).
const (
	// StrategyGreedy takes the argmax of the processed logits: open_clip's
	// generation_type "top_k" with top_k 1, whose draw is then certain.
	StrategyGreedy = "greedy"
	// StrategyBeam is open_clip's generation_type "beam_search": beams score
	// sums of raw decoder logits (no log_softmax), see beam.go.
	StrategyBeam = "beam"
	// StrategyBeamLogProb is the same beam search over log-probabilities:
	// log_softmax, then the processors, as Hugging Face's
	// generate(num_beams=...) scores. Not open_clip's.
	StrategyBeamLogProb = "beam-logprob"
	// StrategyTopK samples among the TopK largest logits (open_clip's "top_k").
	StrategyTopK = "top-k"
	// StrategyTopP samples from the nucleus holding TopP of the probability
	// (open_clip's "top_p").
	StrategyTopP = "top-p"
)

// OpenCLIPGenerateOptions are open_clip's CoCa.generate defaults:
// generation_type "beam_search" with num_beams 6 in num_beam_groups 3 (so
// one search of 2 beams), seq_len 30 including the start token,
// min_seq_len 5, repetition_penalty 1, length penalty 1, and for the
// sampling types top_k 1, top_p 0.1, temperature 1; CLIP's start and end
// tokens and the model's pad id.
var OpenCLIPGenerateOptions = GenerateOptions{MaxLen: 30, MinLen: 5, Start: StartOfText, End: EndOfText,
	Strategy: StrategyBeam, Beams: 6, BeamGroups: 3, LengthPenalty: 1, TopK: 1, TopP: 0.1, Temperature: 1,
	RepetitionPenalty: 1}

// resolve applies the defaults and checks the options against a vocabulary
// of v tokens, the longest caption ctx and the model's pad id.
func (o GenerateOptions) resolve(v, ctx, pad int) (GenerateOptions, error) {
	o = o.withDefaults(ctx)
	if o.Strategy == "" {
		o.Strategy = StrategyGreedy
	}
	if o.Pad == 0 {
		o.Pad = pad
	}
	switch o.Strategy {
	case StrategyGreedy:
	case StrategyBeam, StrategyBeamLogProb:
		if o.Beams == 0 {
			o.Beams = 6
		}
		if o.BeamGroups == 0 {
			o.BeamGroups = 1
		}
		if o.Beams < 1 || o.BeamGroups < 1 || o.Beams%o.BeamGroups != 0 {
			return o, fmt.Errorf("coca: generate: %d beams in %d groups (want at least 1 beam, a multiple of the groups)", o.Beams, o.BeamGroups)
		}
	case StrategyTopK:
		if o.TopK == 0 {
			o.TopK = 1
		}
		if o.TopK < 1 {
			return o, fmt.Errorf("coca: generate: top-k %d (want at least 1)", o.TopK)
		}
	case StrategyTopP:
		if o.TopP == 0 {
			o.TopP = 0.1
		}
		if !(o.TopP > 0 && o.TopP <= 1) {
			return o, fmt.Errorf("coca: generate: top-p %g (want 0 < p ≤ 1)", o.TopP)
		}
	default:
		return o, fmt.Errorf("coca: generate: unknown strategy %q (want %s, %s, %s, %s or %s)", o.Strategy,
			StrategyGreedy, StrategyBeam, StrategyBeamLogProb, StrategyTopK, StrategyTopP)
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
	switch {
	case o.Start < 0 || o.Start >= v:
		return o, fmt.Errorf("coca: generate: start token %d outside the vocabulary [0, %d)", o.Start, v)
	case o.End >= v:
		return o, fmt.Errorf("coca: generate: end token %d outside the vocabulary [0, %d)", o.End, v)
	case o.Pad >= v:
		return o, fmt.Errorf("coca: generate: pad token %d outside the vocabulary [0, %d)", o.Pad, v)
	case o.Start == o.End:
		return o, fmt.Errorf("coca: generate: the start token %d is also the end token", o.Start)
	case o.Start == o.Pad:
		return o, fmt.Errorf("coca: generate: the start token %d is also the pad token, which closes a row (set Pad < 0 for none)", o.Start)
	case o.MinLen < 0:
		return o, fmt.Errorf("coca: generate: min length %d < 0", o.MinLen)
	case o.MaxLen < 2:
		return o, fmt.Errorf("coca: generate: max length %d leaves no token after the start token", o.MaxLen)
	case o.MaxLen <= o.MinLen:
		// open_clip asserts seq_len > min_seq_len.
		return o, fmt.Errorf("coca: generate: max length %d must exceed min length %d", o.MaxLen, o.MinLen)
	case len(o.Prefix) > 0 && 1+len(o.Prefix) >= o.MaxLen:
		return o, fmt.Errorf("coca: generate: a prefix of %d tokens leaves no room below the maximum length %d", len(o.Prefix), o.MaxLen)
	}
	for _, t := range o.Prefix {
		if t < 0 || t >= v {
			return o, fmt.Errorf("coca: generate: prefix token %d outside the vocabulary [0, %d)", t, v)
		}
	}
	return o, nil
}

// CheckGenerateOptions reports whether Generate would accept o for m.
func (m *Model) CheckGenerateOptions(o GenerateOptions) error {
	_, err := m.resolveGenerate(o)
	return err
}

func (m *Model) resolveGenerate(o GenerateOptions) (GenerateOptions, error) {
	return o.resolve(m.vocab(), m.maxGenerateLen(), m.Config.PadID)
}

// stepSource is what the strategies decode from: Step feeds one token per
// row and returns the next-token logits (rows × V, valid until the next
// call); Reorder makes row i a copy of former row src[i] (len(src) rows
// after). The strategies know nothing else of the model: the KV-cached
// Decoder is one source, fullSource (every prefix recomputed) another.
type stepSource interface {
	Step(tokens []int) []float32
	Reorder(src []int)
}

// Generation is what one Generate call produced, with what open_clip's
// generate() returns.
type Generation struct {
	// Tokens holds, per image, the start token, the caption, and the end
	// token when one closed the row (a pad token that closed a row is not
	// included).
	Tokens [][]int
	// Ended reports, per image, whether the end token closed the row
	// (drawn, or written at the last position by greedy decoding and
	// sampling as open_clip does).
	Ended []bool
	// Width and Pad describe open_clip's output tensor: every row padded
	// with Pad to Width columns (Matrix).
	Width, Pad int
}

// Matrix returns the rows of open_clip's output tensor: each row of Tokens
// padded with the pad token to Width columns.
func (g *Generation) Matrix() [][]int {
	out := make([][]int, len(g.Tokens))
	for i, t := range g.Tokens {
		r := make([]int, max(g.Width, len(t)))
		n := copy(r, t)
		for j := n; j < len(r); j++ {
			r[j] = g.Pad
		}
		out[i] = r
	}
	return out
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
	_, tokens := m.EncodeImage(images)
	dec := m.NewDecoder(tokens, o.MaxLen)
	defer dec.Close()
	return decodeRows(dec, tokens.Dim(0), m.vocab(), o), nil
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
	return decodeRows(dec, imageTokens.Dim(0), m.vocab(), o).Tokens, nil
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
	b := tokens.Dim(0)
	src := &fullSource{m: m, rows: b, img: append([]float32(nil), tokens.Data()...), t: tokens.Dim(1), dim: tokens.Dim(2), seqs: make([][]int, b)}
	return decodeRows(src, b, m.vocab(), o).Tokens, nil
}

// decodeRows runs the strategy of o (resolved) over src, which holds one
// row per image, b images, a vocabulary of v tokens.
func decodeRows(src stepSource, b, v int, o GenerateOptions) *Generation {
	if o.Strategy == StrategyBeam || o.Strategy == StrategyBeamLogProb {
		return beamSearch(src, b, v, o)
	}
	return sampleRows(src, b, v, o)
}

// sampleRows is open_clip's loop for the sampling types (and greedy
// decoding): each step, every open row takes its next token from its own
// processed logits; the last position (MaxLen-th token) of a row still
// open is the end token; a row closes on the end token or the pad token.
// Closed rows leave the source.
func sampleRows(src stepSource, b, v int, o GenerateOptions) *Generation {
	g := &Generation{Tokens: make([][]int, b), Ended: make([]bool, b), Pad: o.Pad}
	rows := make([]int, b) // the image of each source row
	next := make([]int, b)
	rngs := make([]*rand.Rand, b)
	for i := range b {
		g.Tokens[i] = o.initial()
		rows[i] = i
		rngs[i] = rand.New(rand.NewPCG(o.Seed, uint64(o.RowOffset+i)))
	}
	var s sampler
	width := o.feedPrefix(src, next) // columns of open_clip's output so far; every open row holds this many tokens
	for len(rows) > 0 && width < o.MaxLen {
		logits := src.Step(next)
		var keep, keepRows []int
		for r, img := range rows {
			seq := g.Tokens[img]
			var t int
			if o.End >= 0 && width+1 == o.MaxLen {
				t = o.End
			} else {
				row := logits[r*v : (r+1)*v]
				o.process(row, seq)
				if o.Strategy == StrategyGreedy {
					t = argmax(row)
				} else {
					t = s.sample(row, o, rngs[img])
				}
			}
			switch {
			case t == o.End:
				g.Tokens[img] = append(seq, t)
				g.Ended[img] = true
			case t == o.Pad:
				// closed: open_clip's row holds the pad, which Matrix restores
			default:
				g.Tokens[img] = append(seq, t)
				keep = append(keep, r)
				keepRows = append(keepRows, img)
			}
		}
		width++
		if len(keep) == 0 || width == o.MaxLen {
			break
		}
		if len(keep) != len(rows) {
			src.Reorder(keep)
		}
		rows = keepRows
		next = next[:len(rows)]
		for r, img := range rows {
			next[r] = g.Tokens[img][len(g.Tokens[img])-1]
		}
	}
	g.Width = width
	if o.FixedLength {
		g.Width = o.MaxLen
	}
	return g
}

// process applies open_clip's logits processors to the next-token logits
// of a row holding seq: MinLengthLogitsProcessor (the end token is -inf
// while seq is shorter than MinLen), then RepetitionPenaltyLogitsProcessor
// (each distinct token of seq: a positive logit divided by the penalty, a
// negative one multiplied, in float32 as torch computes it).
func (o *GenerateOptions) process(row []float32, seq []int) {
	if o.End >= 0 && len(seq) < o.MinLen {
		row[o.End] = float32(math.Inf(-1))
	}
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
}

// sampler holds scratch space for sampling.
type sampler struct {
	idx  []int
	vals []float32
	p    []float64
}

// sample draws a token from row after open_clip's warper, TopKLogitsWarper
// (StrategyTopK: the tokens whose logit is at least the k-th largest) or
// TopPLogitsWarper (StrategyTopP: in ascending order, the tokens whose
// cumulative probability stays ≤ 1 − p are dropped, the most likely one
// always kept); then the kept logits are divided by the temperature and
// the token is drawn from their softmax.
func (s *sampler) sample(row []float32, o GenerateOptions, rng *rand.Rand) int {
	inf := float32(math.Inf(-1))
	if o.Strategy == StrategyTopK && o.TopK < len(row) {
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
