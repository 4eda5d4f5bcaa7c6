package coca

import (
	"github.com/gococa/gococa/coca/generate"
	"github.com/gococa/gococa/tensor"
)

// GreedyReference decodes greedily from start for steps tokens, recomputing
// the whole prefix every step with no end-of-text stop: the plain loop the
// golden fixtures were made with. It is package generate's greedy strategy
// on the uncached source (fullSource); Generate is the fast path.
func (m *Model) GreedyReference(images *tensor.Tensor, start, steps int) [][]int {
	_, tokens := m.EncodeImage(images)
	b := tokens.Dim(0)
	o := GenerateOptions{MaxLen: steps + 1, Start: start, End: -1, Pad: -1, Strategy: StrategyGreedy, RepetitionPenalty: 1}
	return generate.Run(newFullSource(m, tokens), b, m.vocab(), o).Tokens
}
