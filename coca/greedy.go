package coca

import (
	"github.com/gococa/gococa/tensor"
)

// GreedyReference decodes greedily from start for steps tokens, recomputing
// the whole prefix every step with no end-of-text stop: the plain loop the
// golden fixtures were made with. Generate is the fast path.
func (m *Model) GreedyReference(images *tensor.Tensor, start, steps int) [][]int {
	sc := tensor.NoGrad()
	defer sc.End()
	b := images.Dim(0)
	lat, imgTokens := m.Visual.Forward(sc.Use(images))
	defer tensor.Drop(lat, imgTokens)
	seqs := make([][]int, b)
	for i := range seqs {
		seqs[i] = []int{start}
	}
	for s := 0; s < steps; s++ {
		l := len(seqs[0])
		ids := make([]int, 0, b*l)
		for _, q := range seqs {
			ids = append(ids, q...)
		}
		lat, tok := m.Text.forward(sc, ids, b, l)
		logits := m.TextDecoder.Forward(tok, imgTokens) // (B, L, V)
		tensor.Drop(lat, tok)
		v := logits.Dim(2)
		d := logits.Data()
		for bi := range seqs {
			row := d[(bi*l+l-1)*v : (bi*l+l)*v]
			seqs[bi] = append(seqs[bi], argmax(row))
		}
		tensor.Drop(logits)
	}
	return seqs
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
