package coca

import (
	"math"
	"slices"
)

// Beam search follows the rules of Hugging Face's BeamSearchScorer, which
// open_clip's CoCa.generate uses (with early_stopping off):
//
//   - every image starts with Beams copies of the start token; beam 0 scores
//     0 and the others −1e9, so the first step expands beam 0 only;
//   - each step adds log_softmax of every beam's logits (after the
//     repetition penalty and the min-length rule) to the beam's score and
//     takes the 2·Beams best (beam, token) pairs over all beams;
//   - going down that list, an end token among the first Beams places closes
//     a hypothesis scored sum of log-probs / length^LengthPenalty, where the
//     length counts the start token and excludes the end token; any other
//     token continues a beam, until Beams beams continue;
//   - an image is done once it holds Beams hypotheses and the best
//     continuing score, normalised by the current length, cannot beat the
//     worst of them; at MaxLen the continuing beams join the hypotheses;
//   - the result is the best-scored hypothesis, with the end token appended
//     when it was closed by one.
//
// Images are independent: a batch decodes each image as it would alone.
// Finished images leave the decoder.

type hypothesis struct {
	score float64
	toks  []int
	ended bool
}

// beamHyps is HF's BeamHypotheses: the n best closed hypotheses.
type beamHyps struct {
	n     int
	alpha float64
	hyps  []hypothesis
	worst float64
}

func (h *beamHyps) add(toks []int, sumLogp float64, ended bool) {
	score := sumLogp / math.Pow(float64(len(toks)), h.alpha)
	if len(h.hyps) < h.n || score > h.worst {
		h.hyps = append(h.hyps, hypothesis{score, slices.Clone(toks), ended})
		if len(h.hyps) > h.n {
			lo, lo2 := 0, -1
			for i := range h.hyps {
				if h.hyps[i].score < h.hyps[lo].score {
					lo = i
				}
			}
			h.hyps = slices.Delete(h.hyps, lo, lo+1)
			for i := range h.hyps {
				if lo2 < 0 || h.hyps[i].score < h.hyps[lo2].score {
					lo2 = i
				}
			}
			h.worst = h.hyps[lo2].score
		} else {
			h.worst = math.Min(score, h.worst)
		}
	}
}

// isDone reports whether no continuing beam can beat the worst hypothesis.
func (h *beamHyps) isDone(bestSumLogp float64, curLen int) bool {
	if len(h.hyps) < h.n {
		return false
	}
	return h.worst >= bestSumLogp/math.Pow(float64(curLen), h.alpha)
}

// best returns the best hypothesis (the later one among equal scores, as
// HF's stable sort and pop do).
func (h *beamHyps) best() hypothesis {
	b := 0
	for i := range h.hyps {
		if h.hyps[i].score >= h.hyps[b].score {
			b = i
		}
	}
	return h.hyps[b]
}

type candidate struct {
	score float64
	idx   int // beam·V + token
}

// topCandidates keeps the n best candidates sorted by score, descending;
// among equal scores the lower index comes first.
type topCandidates struct {
	n int
	c []candidate
}

func (t *topCandidates) reset(n int) { t.n, t.c = n, t.c[:0] }

func (t *topCandidates) push(score float64, idx int) {
	if len(t.c) == t.n && !(score > t.c[len(t.c)-1].score) {
		return
	}
	i := len(t.c)
	for i > 0 && score > t.c[i-1].score {
		i--
	}
	if len(t.c) < t.n {
		t.c = append(t.c, candidate{})
	}
	copy(t.c[i+1:], t.c[i:len(t.c)-1])
	t.c[i] = candidate{score, idx}
}

func (m *Model) beamSearch(src stepSource, b int, o GenerateOptions) [][]int {
	v := m.Config.Multimodal.VocabSize
	k := o.Beams
	hyps := make([]beamHyps, b)
	for i := range hyps {
		hyps[i] = beamHyps{n: k, alpha: o.LengthPenalty, worst: 1e9}
	}
	out := make([][]int, b)
	if o.MaxLen <= 1 {
		for i := range out {
			out[i] = []int{o.Start}
		}
		return out
	}
	// Row j·k+beam holds beam `beam` of image active[j].
	active := make([]int, b)
	expand := make([]int, b*k)
	seqs := make([][]int, b*k)
	scores := make([]float64, b*k)
	last := make([]int, b*k)
	for i := range active {
		active[i] = i
	}
	for r := range expand {
		expand[r] = r / k
		seqs[r] = []int{o.Start}
		last[r] = o.Start
		if r%k != 0 {
			scores[r] = -1e9
		}
	}
	src.Reorder(expand)
	var top topCandidates
	logp := make([]float64, v)
	for curLen := 1; curLen < o.MaxLen && len(active) > 0; curLen++ {
		logits := src.Step(last)
		final := curLen+1 == o.MaxLen
		var from []int // source rows of the next step's rows
		var nextSeqs [][]int
		var nextScores []float64
		var nextActive []int
		for j, img := range active {
			top.reset(2 * k)
			for beam := 0; beam < k; beam++ {
				r := j*k + beam
				row := logits[r*v : (r+1)*v]
				o.process(row, seqs[r])
				logSoftmax(logp, row)
				for t, lp := range logp {
					top.push(lp+scores[r], beam*v+t)
				}
			}
			n := 0
			firstRow := len(from)
			for rank, c := range top.c {
				beam, tok := c.idx/v, c.idx%v
				r := j*k + beam
				if o.End >= 0 && tok == o.End {
					if rank < k {
						hyps[img].add(seqs[r], c.score, true)
					}
					continue
				}
				from = append(from, r)
				nextSeqs = append(nextSeqs, append(slices.Clone(seqs[r]), tok))
				nextScores = append(nextScores, c.score)
				n++
				if n == k {
					break
				}
			}
			if hyps[img].isDone(top.c[0].score, curLen) {
				from, nextSeqs, nextScores = from[:firstRow], nextSeqs[:firstRow], nextScores[:firstRow]
				continue
			}
			if final {
				for q := firstRow; q < len(from); q++ {
					hyps[img].add(nextSeqs[q], nextScores[q], false)
				}
				continue
			}
			nextActive = append(nextActive, img)
		}
		if final || len(nextActive) == 0 {
			break
		}
		src.Reorder(from)
		active, seqs, scores = nextActive, nextSeqs, nextScores
		last = last[:len(seqs)]
		for r, s := range seqs {
			last[r] = s[len(s)-1]
		}
	}
	for i := range out {
		h := hyps[i].best()
		out[i] = h.toks
		if h.ended {
			out[i] = append(out[i], o.End)
		}
	}
	return out
}

// logSoftmax writes log_softmax(row) to dst in float64.
func logSoftmax(dst []float64, row []float32) {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	sum := 0.0
	for _, x := range row {
		sum += math.Exp(float64(x) - mx)
	}
	lse := mx + math.Log(sum)
	for i, x := range row {
		dst[i] = float64(x) - lse
	}
}
