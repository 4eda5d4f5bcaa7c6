// Package generate holds the generation strategies (greedy decoding,
// beam search, top-k and top-p sampling) with open_clip's CoCa.generate
// rules, independent of any model: each is driven by a Source, the step
// function of a decoder (one token per row in, next-token logits out, and
// a way to reorder rows), and returns the tokens of every row. Package
// coca's Decoder is the step function of a CoCa model; coca.Generate and
// its variants, the uncached references and greedy decoding for training
// evaluation all run these strategies.
package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// CLIP tokenizer ids used by the defaults.
const (
	StartOfText = 49406
	EndOfText   = 49407
)

// Strategies (Options.Strategy). Every strategy follows
// open_clip's CoCa.generate (2.29) with the Hugging Face pieces it uses
// (MinLengthLogitsProcessor, then RepetitionPenaltyLogitsProcessor; the
// top-k and top-p warpers; BeamSearchScorer).
const (
	// Greedy takes the argmax of the processed logits: open_clip's
	// generation_type "top_k" with top_k 1, whose draw is then certain.
	Greedy = "greedy"
	// Beam is open_clip's generation_type "beam_search": beams score
	// sums of raw decoder logits (no log_softmax), see beam.go.
	Beam = "beam"
	// BeamLogProb is the same beam search over log-probabilities:
	// log_softmax, then the processors, as Hugging Face's
	// generate(num_beams=...) scores. Not open_clip's.
	BeamLogProb = "beam-logprob"
	// TopK samples among the TopK largest logits (open_clip's "top_k").
	TopK = "top-k"
	// TopP samples from the nucleus holding TopP of the probability
	// (open_clip's "top_p").
	TopP = "top-p"
)

// OpenCLIP are open_clip's CoCa.generate defaults:
// generation_type "beam_search" with num_beams 6 in num_beam_groups 3 (so
// one search of 2 beams), seq_len 30 including the start token,
// min_seq_len 5, repetition_penalty 1, length penalty 1, and for the
// sampling types top_k 1, top_p 0.1, temperature 1; CLIP's start and end
// tokens and the model's pad id.
var OpenCLIP = Options{MaxLen: 30, MinLen: 5, Start: StartOfText, End: EndOfText,
	Strategy: Beam, Beams: 6, BeamGroups: 3, LengthPenalty: 1, TopK: 1, TopP: 0.1, Temperature: 1,
	RepetitionPenalty: 1}

// Options control generation. The zero value of a field means the default
// given in its comment; OpenCLIP holds open_clip's CoCa.generate defaults.
type Options struct {
	MaxLen int // seq_len: tokens per caption including the start token (default 30; capped at the context length)
	MinLen int // min_seq_len: the end token is suppressed while a row holds fewer tokens (default 0: no minimum; open_clip's is 5)
	Start  int // start token (default StartOfText; Start and End both 0 select the CLIP ids)
	End    int // end token (default EndOfText); a negative End never stops early
	// Pad is the pad token (pad_token_id): greedy decoding and sampling
	// close a row that draws it, and it fills open_clip's output matrix
	// (Result.Matrix). 0 means the pad id given to Resolve (a CoCa
	// model's Config.PadID, 0 in every open_clip config); a negative Pad
	// closes no row.
	Pad int

	// NoFinalEnd keeps greedy decoding and sampling from writing the end
	// token at the last (MaxLen-th) position of a row still open, which
	// open_clip does.
	NoFinalEnd bool

	// The fields below are read by every strategy but plain greedy
	// decoding (coca's GenerateGreedy ignores them).

	Strategy string // Greedy (the zero value), Beam, BeamLogProb, TopK or TopP
	Beams    int    // beam search: num_beams (default 6)
	// BeamGroups is open_clip's num_beam_groups (default 1); Beams must be
	// a multiple of it. open_clip gives the groups no diversity penalty, so
	// each group runs the same search with Beams/BeamGroups beams and the
	// result is that of one such search.
	BeamGroups        int
	LengthPenalty     float64 // beam search: a hypothesis scores its sum / length^LengthPenalty (open_clip's 1; the zero value: no normalisation)
	TopK              int     // top-k: tokens kept (default 1, open_clip's)
	TopP              float64 // top-p: nucleus mass kept (default 0.1, open_clip's)
	Temperature       float64 // sampling: logits are divided by it after filtering, as open_clip does (default 1)
	RepetitionPenalty float64 // HF's: logits of tokens already in the row are divided by it when positive, multiplied when negative (default 1: off)
	// FixedLength is open_clip's fixed_output_length: the output matrix
	// has MaxLen columns whatever the rows' lengths. It changes no row.
	FixedLength bool
	Seed        uint64 // sampling: row i draws from a PCG seeded with (Seed, RowOffset+i)
	RowOffset   int    // sampling: index of the first row within a larger job, so that each image keeps its stream whatever the batching

	// Prefix holds tokens every caption starts with after the start token
	// (a text prompt, as open_clip's generate(text=...) takes for the
	// sampling types): they are fed to the decoder first and count towards
	// MaxLen, MinLen, the repetition penalty and beam search's length
	// normalisation as generated tokens would; they add nothing to a beam's
	// score.
	Prefix []int
}

// initial returns the tokens every row starts from: the start token and
// the prefix.
func (o *Options) initial() []int { return append([]int{o.Start}, o.Prefix...) }

// feedPrefix feeds the start token and all but the last prefix token to
// the rows of src and leaves the token to feed next in next. It returns
// the length of the rows after the prefix.
func (o *Options) feedPrefix(src Source, next []int) int {
	for i := range next {
		next[i] = o.Start
	}
	for _, t := range o.Prefix {
		src.Step(next)
		for i := range next {
			next[i] = t
		}
	}
	return 1 + len(o.Prefix)
}

// Resolve applies the defaults and checks the options against a
// vocabulary of v tokens, the longest caption ctx (the model's context
// length) and the model's pad id.
func (o Options) Resolve(v, ctx, pad int) (Options, error) {
	o = o.WithDefaults(ctx)
	if o.Strategy == "" {
		o.Strategy = Greedy
	}
	if o.Pad == 0 {
		o.Pad = pad
	}
	switch o.Strategy {
	case Greedy:
	case Beam, BeamLogProb:
		if o.Beams == 0 {
			o.Beams = 6
		}
		if o.BeamGroups == 0 {
			o.BeamGroups = 1
		}
		if o.Beams < 1 || o.BeamGroups < 1 || o.Beams%o.BeamGroups != 0 {
			return o, fmt.Errorf("generate: %d beams in %d groups (want at least 1 beam, a multiple of the groups)", o.Beams, o.BeamGroups)
		}
	case TopK:
		if o.TopK == 0 {
			o.TopK = 1
		}
		if o.TopK < 1 {
			return o, fmt.Errorf("generate: top-k %d (want at least 1)", o.TopK)
		}
	case TopP:
		if o.TopP == 0 {
			o.TopP = 0.1
		}
		if !(o.TopP > 0 && o.TopP <= 1) {
			return o, fmt.Errorf("generate: top-p %g (want 0 < p ≤ 1)", o.TopP)
		}
	default:
		return o, fmt.Errorf("generate: unknown strategy %q (want %s, %s, %s, %s or %s)", o.Strategy,
			Greedy, Beam, BeamLogProb, TopK, TopP)
	}
	if o.Temperature == 0 {
		o.Temperature = 1
	}
	if !(o.Temperature > 0) || math.IsInf(o.Temperature, 0) {
		return o, fmt.Errorf("generate: temperature %g (want > 0)", o.Temperature)
	}
	if o.RepetitionPenalty == 0 {
		o.RepetitionPenalty = 1
	}
	if !(o.RepetitionPenalty > 0) || math.IsInf(o.RepetitionPenalty, 0) {
		return o, fmt.Errorf("generate: repetition penalty %g (want > 0)", o.RepetitionPenalty)
	}
	if math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0) {
		return o, fmt.Errorf("generate: length penalty %g", o.LengthPenalty)
	}
	switch {
	case o.Start < 0 || o.Start >= v:
		return o, fmt.Errorf("generate: start token %d outside the vocabulary [0, %d)", o.Start, v)
	case o.End >= v:
		return o, fmt.Errorf("generate: end token %d outside the vocabulary [0, %d)", o.End, v)
	case o.Pad >= v:
		return o, fmt.Errorf("generate: pad token %d outside the vocabulary [0, %d)", o.Pad, v)
	case o.Start == o.End:
		return o, fmt.Errorf("generate: the start token %d is also the end token", o.Start)
	case o.Start == o.Pad:
		return o, fmt.Errorf("generate: the start token %d is also the pad token, which closes a row (set Pad < 0 for none)", o.Start)
	case o.MinLen < 0:
		return o, fmt.Errorf("generate: min length %d < 0", o.MinLen)
	case o.MaxLen < 2:
		return o, fmt.Errorf("generate: max length %d leaves no token after the start token", o.MaxLen)
	case o.MaxLen <= o.MinLen:
		// open_clip asserts seq_len > min_seq_len.
		return o, fmt.Errorf("generate: max length %d must exceed min length %d", o.MaxLen, o.MinLen)
	case len(o.Prefix) > 0 && 1+len(o.Prefix) >= o.MaxLen:
		return o, fmt.Errorf("generate: a prefix of %d tokens leaves no room below the maximum length %d", len(o.Prefix), o.MaxLen)
	}
	for _, t := range o.Prefix {
		if t < 0 || t >= v {
			return o, fmt.Errorf("generate: prefix token %d outside the vocabulary [0, %d)", t, v)
		}
	}
	return o, nil
}

// WithDefaults applies the defaults of MaxLen (30, at most ctx), Start and
// End, and nothing else: what plain greedy decoding needs.
func (o Options) WithDefaults(ctx int) Options {
	if o.MaxLen <= 0 {
		o.MaxLen = 30
	}
	if o.MaxLen > ctx {
		o.MaxLen = ctx
	}
	if o.Start == 0 && o.End == 0 {
		o.Start, o.End = StartOfText, EndOfText
	}
	return o
}

// Source is what the strategies decode from, the step function of a
// model: Step feeds one token per row and returns the next-token logits
// (rows × V, valid until the next call, which the strategies may modify);
// Reorder makes row i a copy of former row src[i] (len(src) rows after).
// The strategies know nothing else of the model: coca's KV-cached
// Decoder is one source, its uncached reference (every prefix recomputed)
// another.
type Source interface {
	Step(tokens []int) []float32
	Reorder(src []int)
}

// Result is what one generation produced, with what open_clip's
// generate() returns.
type Result struct {
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
func (g *Result) Matrix() [][]int {
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

// Run decodes b images (rows) from src, which holds one row per image,
// over a vocabulary of v tokens, with the strategy of o (resolved:
// Resolve, or WithDefaults for greedy decoding). Greedy decoding and
// sampling drop closed rows from src (Reorder); beam search expands each
// image to its beams first.
func Run(src Source, b, v int, o Options) *Result {
	if o.Strategy == Beam || o.Strategy == BeamLogProb {
		return beamSearch(src, b, v, o)
	}
	return sampleRows(src, b, v, o)
}

// RunN is Run returning n results per image: beam search's n best
// hypotheses (n at most Beams/BeamGroups), best first, each with the end
// token appended when one closed it; for the other strategies, n rows per
// image must already be in src (row i·n+j is image i's j-th), each
// drawing its own stream (RowOffset counts rows, so pass RowOffset·n).
func RunN(src Source, b, v int, o Options, n int) [][][]int {
	if o.Strategy == Beam || o.Strategy == BeamLogProb {
		return beamSearchN(src, b, v, o, n)
	}
	seqs := sampleRows(src, b*n, v, o).Tokens
	out := make([][][]int, b)
	for i := range out {
		out[i] = seqs[i*n : (i+1)*n]
	}
	return out
}

// sampleRows is open_clip's loop for the sampling types (and greedy
// decoding): each step, every open row takes its next token from its own
// processed logits; the last position (MaxLen-th token) of a row still
// open is the end token; a row closes on the end token or the pad token.
// Closed rows leave the source.
func sampleRows(src Source, b, v int, o Options) *Result {
	g := &Result{Tokens: make([][]int, b), Ended: make([]bool, b), Pad: o.Pad}
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
			if o.End >= 0 && width+1 == o.MaxLen && !o.NoFinalEnd {
				t = o.End
			} else {
				row := logits[r*v : (r+1)*v]
				o.process(row, seq)
				if o.Strategy == Greedy {
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
func (o *Options) process(row []float32, seq []int) {
	if o.End >= 0 && o.End < len(row) && len(seq) < o.MinLen {
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
// (TopK: the tokens whose logit is at least the k-th largest) or
// TopPLogitsWarper (TopP: in ascending order, the tokens whose
// cumulative probability stays ≤ 1 − p are dropped, the most likely one
// always kept); then the kept logits are divided by the temperature and
// the token is drawn from their softmax.
func (s *sampler) sample(row []float32, o Options, rng *rand.Rand) int {
	inf := float32(math.Inf(-1))
	if o.Strategy == TopK && o.TopK < len(row) {
		s.vals = append(s.vals[:0], row...)
		slices.Sort(s.vals)
		thr := s.vals[len(s.vals)-o.TopK]
		for i, x := range row {
			if x < thr {
				row[i] = inf
			}
		}
	}
	if o.Strategy == TopP && o.TopP < 1 {
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

// argmax returns the index of the largest value (the first of equal ones).
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
