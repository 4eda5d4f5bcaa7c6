package coca

import (
	"math"

	"github.com/gococa/gococa/tensor"
)

// CLIP tokenizer ids used by generation defaults.
const (
	StartOfText = 49406
	EndOfText   = 49407
)

// GenerateOptions control caption generation. The zero value of a field
// means the default given in its comment; OpenCLIPGenerateOptions holds
// open_clip's CoCa.generate defaults.
type GenerateOptions struct {
	MaxLen int // seq_len: tokens per caption including the start token (default 30; capped at the context length)
	MinLen int // min_seq_len: the end token is suppressed while a row holds fewer tokens (default 0: no minimum; open_clip's is 5)
	Start  int // start token (default StartOfText; Start and End both 0 select the CLIP ids)
	End    int // end token (default EndOfText); a negative End never stops early
	// Pad is the pad token (pad_token_id): greedy decoding and sampling
	// close a row that draws it, and it fills open_clip's output matrix
	// (Generation.Matrix). 0 means the model's pad id (Config.PadID, 0 in
	// every open_clip config); a negative Pad closes no row.
	Pad int

	// The fields below are read by Generate; GenerateGreedy ignores them.

	Strategy string // StrategyGreedy (the zero value), StrategyBeam, StrategyBeamLogProb, StrategyTopK or StrategyTopP
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
func (o *GenerateOptions) initial() []int { return append([]int{o.Start}, o.Prefix...) }

// feedPrefix feeds the start token and all but the last prefix token to
// the rows of src and leaves the token to feed next in next. It returns
// the length of the rows after the prefix.
func (o *GenerateOptions) feedPrefix(src stepSource, next []int) int {
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

func (o GenerateOptions) withDefaults(ctx int) GenerateOptions {
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

// GenerateGreedy captions images (B, 3, S, S): for each row, argmax of the
// next-token logits until the end token or MaxLen, with no other rule
// (no pad, no end token written at the last position: Generate with
// StrategyGreedy follows open_clip there). Rows stop separately. Each
// result starts with the start token and ends with the end token when one
// was produced.
func (m *Model) GenerateGreedy(images *tensor.Tensor, opt GenerateOptions) [][]int {
	_, tokens := m.EncodeImage(images)
	return m.GreedyFromTokens(tokens, opt)
}

// GreedyFromTokens is GenerateGreedy from image tokens (B, T, D).
func (m *Model) GreedyFromTokens(imageTokens *tensor.Tensor, opt GenerateOptions) [][]int {
	opt = opt.withDefaults(m.maxGenerateLen())
	b := imageTokens.Dim(0)
	dec := m.NewDecoder(imageTokens, opt.MaxLen)
	defer dec.Close()
	seqs := make([][]int, b)
	next := make([]int, b)
	done := make([]bool, b)
	for i := range seqs {
		seqs[i] = []int{opt.Start}
		next[i] = opt.Start
	}
	v := m.vocab()
	for step := 1; step < opt.MaxLen; step++ {
		logits := dec.Step(next)
		all := true
		for i := 0; i < b; i++ {
			if done[i] {
				continue
			}
			row := logits[i*v : (i+1)*v]
			if opt.End >= 0 && opt.End < v && len(seqs[i]) < opt.MinLen {
				row[opt.End] = float32(math.Inf(-1))
			}
			t := argmax(row)
			seqs[i] = append(seqs[i], t)
			next[i] = t
			if t == opt.End {
				done[i] = true
			} else {
				all = false
			}
		}
		if all {
			break
		}
	}
	return seqs
}

// vocab returns the decoder's vocabulary size (open_clip builds the
// decoder's projection from text_cfg.vocab_size).
func (m *Model) vocab() int { return m.Config.Text.VocabSize }

// maxGenerateLen is the longest caption the model can decode: the text
// tower's context length, and the multimodal decoder's, whose causal mask
// open_clip sizes from multimodal_cfg.context_length.
func (m *Model) maxGenerateLen() int {
	return min(m.Config.Text.ContextLength, m.Config.Multimodal.ContextLength)
}
