package generate

import (
	"math"
	"slices"
)

// Beam search as open_clip's CoCa.generate(generation_type="beam_search")
// runs it with Hugging Face's BeamSearchScorer (length_penalty 1 by
// default, do_early_stopping off), per image:
//
//   - open_clip splits num_beams into num_beam_groups but applies no
//     diversity penalty, so every group runs the same search with
//     k = Beams/BeamGroups beams and yields the same hypotheses: we run one;
//   - the k beams start as copies of the start token; beam 0 scores 0 and
//     the others −1e9 (float32), so the first step expands beam 0 only;
//   - each step, a beam's next-token scores are its logits after the
//     MinLength and RepetitionPenalty processors, raw (Beam: no
//     log_softmax) or as log-probabilities (BeamLogProb:
//     log_softmax first, as HF's own generate does), plus the beam's
//     running score, summed in float32 as torch does; the 2k best
//     (beam, token) pairs over all beams are taken;
//   - going down that list, the end token among the first k places closes
//     a hypothesis scored sum / (tokens before it + 1)^LengthPenalty (the
//     tokens count the start token); any other token continues a beam,
//     until k beams continue;
//   - the image is done once it holds k hypotheses and the best score of
//     the step, divided by (current length + 1)^LengthPenalty, cannot beat
//     the worst of them; when the rows reach MaxLen tokens, the beams of an
//     image not done join its hypotheses scored sum / MaxLen^LengthPenalty;
//   - the result is the best hypothesis (the last added among equal
//     scores), with the end token appended when one closed it. open_clip's
//     output has min(longest hypothesis + 1, MaxLen) columns (MaxLen with
//     fixed_output_length), padded with the pad token.
//
// Images are independent: a batch decodes each image as it would alone.
// Done images leave the source.

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

// add offers toks, whose running score is sum, normalised by length.
func (h *beamHyps) add(toks []int, sum float32, length int, ended bool) {
	score := float64(sum) / math.Pow(float64(length), h.alpha)
	if len(h.hyps) >= h.n && !(score > h.worst) {
		return
	}
	h.hyps = append(h.hyps, hypothesis{score, slices.Clone(toks), ended})
	if len(h.hyps) <= h.n {
		h.worst = math.Min(score, h.worst)
		return
	}
	// Drop the worst (the first of equal scores), as HF's sort of
	// (score, index) pairs does; the next worst becomes the bar.
	lo := 0
	for i := range h.hyps {
		if h.hyps[i].score < h.hyps[lo].score {
			lo = i
		}
	}
	h.hyps = slices.Delete(h.hyps, lo, lo+1)
	h.worst = h.hyps[0].score
	for _, x := range h.hyps {
		h.worst = math.Min(h.worst, x.score)
	}
}

// isDone reports whether no continuing beam can beat the worst hypothesis:
// best is the step's best score, length the rows' length after the step.
func (h *beamHyps) isDone(best float32, length int) bool {
	if len(h.hyps) < h.n {
		return false
	}
	return h.worst >= float64(best)/math.Pow(float64(length), h.alpha)
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

// ranked returns the hypotheses best first; among equal scores the later
// one first, as best picks it.
func (h *beamHyps) ranked() []hypothesis {
	r := slices.Clone(h.hyps)
	slices.Reverse(r)
	slices.SortStableFunc(r, func(a, b hypothesis) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	return r
}

type candidate struct {
	score float32
	idx   int // beam·V + token
}

// topCandidates keeps the n best candidates sorted by score, descending;
// among equal scores the lower index comes first.
type topCandidates struct {
	n int
	c []candidate
}

func (t *topCandidates) reset(n int) { t.n, t.c = n, t.c[:0] }

func (t *topCandidates) push(score float32, idx int) {
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

// beamSearch decodes b images from src (one row per image) with
// vocabulary v and the resolved options o.
func beamSearch(src Source, b, v int, o Options) *Result {
	hyps := beamHypotheses(src, b, v, o)
	g := &Result{Tokens: make([][]int, b), Ended: make([]bool, b), Pad: o.Pad}
	longest := 0
	for i := range g.Tokens {
		h := hyps[i].best()
		longest = max(longest, len(h.toks))
		g.Tokens[i] = h.toks
		if h.ended {
			g.Tokens[i] = append(g.Tokens[i], o.End)
		}
		g.Ended[i] = h.ended
	}
	g.Width = min(longest+1, o.MaxLen)
	if o.FixedLength {
		g.Width = o.MaxLen
	}
	return g
}

// beamSearchN is beam search returning the n best hypotheses of each image
// (n at most Beams/BeamGroups), best first, each with the end token
// appended when one closed it.
func beamSearchN(src Source, b, v int, o Options, n int) [][][]int {
	out := make([][][]int, b)
	for i, h := range beamHypotheses(src, b, v, o) {
		for _, x := range h.ranked()[:min(n, len(h.hyps))] {
			seq := x.toks
			if x.ended {
				seq = append(seq, o.End)
			}
			out[i] = append(out[i], seq)
		}
	}
	return out
}

// beamHypotheses runs the search and returns each image's hypotheses.
func beamHypotheses(src Source, b, v int, o Options) []beamHyps {
	k := o.Beams / o.BeamGroups
	logProb := o.Strategy == BeamLogProb
	hyps := make([]beamHyps, b)
	for i := range hyps {
		hyps[i] = beamHyps{n: k, alpha: o.LengthPenalty, worst: 1e9}
	}
	// Row j·k+beam holds beam `beam` of image active[j].
	active := make([]int, b)
	expand := make([]int, b*k)
	seqs := make([][]int, b*k)
	scores := make([]float32, b*k)
	last := make([]int, b*k)
	for i := range active {
		active[i] = i
	}
	for r := range expand {
		expand[r] = r / k
		seqs[r] = o.initial()
		if r%k != 0 {
			scores[r] = -1e9
		}
	}
	if k > 1 {
		src.Reorder(expand)
	}
	var top topCandidates
	for curLen := o.feedPrefix(src, last); curLen < o.MaxLen && len(active) > 0; curLen++ {
		logits := src.Step(last)
		final := curLen+1 == o.MaxLen
		var from []int // source rows of the next step's rows
		var nextSeqs [][]int
		var nextScores []float32
		var nextActive []int
		for j, img := range active {
			top.reset(2 * k)
			for beam := 0; beam < k; beam++ {
				r := j*k + beam
				row := logits[r*v : (r+1)*v]
				if logProb {
					logSoftmax(row)
				}
				o.process(row, seqs[r])
				for t, x := range row {
					top.push(x+scores[r], beam*v+t)
				}
			}
			n := 0
			firstRow := len(from)
			for rank, c := range top.c {
				beam, tok := c.idx/v, c.idx%v
				r := j*k + beam
				if o.End >= 0 && tok == o.End {
					if rank < k {
						hyps[img].add(seqs[r], c.score, curLen+1, true)
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
			if hyps[img].isDone(top.c[0].score, curLen+1) {
				from, nextSeqs, nextScores = from[:firstRow], nextSeqs[:firstRow], nextScores[:firstRow]
				continue
			}
			if final {
				for q := firstRow; q < len(from); q++ {
					hyps[img].add(nextSeqs[q], nextScores[q], curLen+1, false)
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
	return hyps
}

// logSoftmax replaces row by log_softmax(row), computed in float64.
func logSoftmax(row []float32) {
	lse := LogSumExp(row)
	for i, x := range row {
		row[i] = float32(float64(x) - lse)
	}
}

// LogSumExp returns log(Σ exp(row[i])), computed in float64 from the
// largest value: the normaliser of a row of logits.
func LogSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	sum := 0.0
	for _, x := range row {
		sum += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(sum)
}
