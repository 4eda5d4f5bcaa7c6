package coca

import (
	"github.com/gococa/gococa/coca/generate"
	"github.com/gococa/gococa/tensor"
)

// GenerateGreedy captions images (B, 3, S, S): for each row, argmax of the
// next-token logits until the end token or MaxLen, with no other rule
// (no pad, no end token written at the last position: Generate with
// StrategyGreedy follows open_clip there). Rows stop separately. Each
// result starts with the start token and ends with the end token when one
// was produced.
func (m *Model) GenerateGreedy(images *tensor.Tensor, opt GenerateOptions) [][]int {
	o := m.greedyOptions(opt)
	dec := m.imageDecoder(images, o.MaxLen)
	defer dec.Close()
	return generate.Run(dec, dec.Rows(), m.vocab(), o).Tokens
}

func (m *Model) greedyOptions(opt GenerateOptions) GenerateOptions {
	return GenerateOptions{MaxLen: opt.MaxLen, MinLen: opt.MinLen, Start: opt.Start, End: opt.End, Pad: -1,
		NoFinalEnd: true, Strategy: StrategyGreedy, RepetitionPenalty: 1}.WithDefaults(m.maxGenerateLen())
}

// GreedyFromTokens is GenerateGreedy from image tokens (B, T, D): the
// greedy strategy of package generate on the KV-cached Decoder, with the
// options' MaxLen, MinLen, Start and End, no pad token and no end token
// written at the last position.
func (m *Model) GreedyFromTokens(imageTokens *tensor.Tensor, opt GenerateOptions) [][]int {
	o := m.greedyOptions(opt)
	dec := m.NewDecoder(imageTokens, o.MaxLen)
	defer dec.Close()
	return generate.Run(dec, imageTokens.Dim(0), m.vocab(), o).Tokens
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
