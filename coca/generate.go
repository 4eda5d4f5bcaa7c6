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

// GenerateOptions control caption generation.
type GenerateOptions struct {
	MaxLen int // tokens per caption including the start token (default 30; never past the context length)
	MinLen int // the end token is suppressed while a caption is shorter than this (default 5, open_clip's min_seq_len)
	Start  int // start token (default StartOfText)
	End    int // end token (default EndOfText); a negative End never stops early

	// The fields below are read by Generate; GenerateGreedy ignores them.

	Strategy          string  // StrategyGreedy (the zero value), StrategyBeam, StrategyTopK or StrategyTopP
	Beams             int     // beam search: beams per image (default 6)
	LengthPenalty     float64 // beam search: α in score = sum of log-probs / length^α (HF's and open_clip's 1.0; the zero value means no normalisation)
	TopK              int     // top-k: tokens kept (default 50); top-p: also keep at most TopK tokens when > 0
	TopP              float64 // top-p: nucleus mass kept (default 0.9)
	Temperature       float64 // sampling: logits are divided by it after filtering, as open_clip does (default 1)
	RepetitionPenalty float64 // HF's: logits of tokens already in the row are divided by it when positive, multiplied when negative (default 1: off)
	Seed              uint64  // sampling: row i draws from a PCG seeded with (Seed, RowOffset+i)
	RowOffset         int     // sampling: index of the first row within a larger job, so that each image keeps its stream whatever the batching
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

// DefaultGenerateOptions are open_clip's generation defaults for greedy
// decoding (seq_len 30, min_seq_len 5).
var DefaultGenerateOptions = GenerateOptions{MaxLen: 30, MinLen: 5, Start: StartOfText, End: EndOfText}

// GenerateGreedy captions images (B, 3, S, S): for each row, argmax of the
// next-token logits until the end token or MaxLen. Rows stop separately.
// Each result starts with the start token and ends with the end token
// when one was produced.
func (m *Model) GenerateGreedy(images *tensor.Tensor, opt GenerateOptions) [][]int {
	defer tensor.NoGrad()()
	_, tokens := m.Visual.Forward(images)
	return m.GreedyFromTokens(tokens, opt)
}

// GreedyFromTokens is GenerateGreedy from image tokens (B, T, D).
func (m *Model) GreedyFromTokens(imageTokens *tensor.Tensor, opt GenerateOptions) [][]int {
	opt = opt.withDefaults(m.Config.Text.ContextLength)
	b := imageTokens.Dim(0)
	dec := m.NewDecoder(imageTokens, opt.MaxLen)
	seqs := make([][]int, b)
	next := make([]int, b)
	done := make([]bool, b)
	for i := range seqs {
		seqs[i] = []int{opt.Start}
		next[i] = opt.Start
	}
	v := m.Config.Multimodal.VocabSize
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
