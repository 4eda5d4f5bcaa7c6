package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBeamScoring works open_clip's beam search by hand on a source with
// fixed raw logits (vocabulary: 0 start, 1 end, 2 a, 3 b; 2 beams, length
// penalty 1, MaxLen 4):
//
//	after [0]: end 0.5, a 3, b 2.5. The 4 best: a 3, b 2.5, end 0.5 (rank 2 ≥ 2
//	beams: no hypothesis); beams [0 a] 3, [0 b] 2.5.
//	after [0 a]: end 1, b 0; after [0 b]: end 4, b 0.1. The 4 best: [0 b]+end
//	6.5, [0 a]+end 4, [0 a b] 3, [0 b b] 2.6. Hypotheses [0 b] 6.5/(2+1) =
//	2.167 and [0 a] 4/3 = 1.333; not done (1.333 < 6.5/3).
//	after any [0 x y]: end 0.2, a 0, b 0. Best candidate [0 a b]+end 3.2/4 =
//	0.8 ≤ 1.333: no hypothesis, and done.
//
// Result [0 b end]: open_clip's output has 3 columns. Over log-probabilities
// (HF's generate) the order flips: [0 a]+end −0.839 beats [0 b]+end −1.044
// (log_softmax of the rows above), so BeamLogProb gives [0 a end].
// With 4 beams in 2 groups open_clip repeats the 2-beam search per group.
func TestBeamScoring(t *testing.T) {
	next := func(_ int, seq []int) []float32 {
		switch {
		case len(seq) == 1:
			return []float32{-9, 0.5, 3, 2.5}
		case len(seq) == 2 && seq[1] == 2:
			return []float32{-9, 1, -5, 0}
		case len(seq) == 2:
			return []float32{-9, 4, -5, 0.1}
		}
		return []float32{-9, 0.2, 0, 0}
	}
	for _, c := range []struct {
		strategy      string
		beams, groups int
		want          []int
	}{
		{Beam, 2, 1, []int{0, 3, 1}},
		{Beam, 4, 2, []int{0, 3, 1}},
		{BeamLogProb, 2, 1, []int{0, 2, 1}},
	} {
		src := &rowSource{next: next, imgs: []int{0}, seqs: [][]int{{}}}
		o, err := Options{Strategy: c.strategy, Beams: c.beams, BeamGroups: c.groups, LengthPenalty: 1,
			MaxLen: 4, Start: 0, End: 1, Pad: -1}.Resolve(4, 12, 0)
		if err != nil {
			t.Fatal(err)
		}
		g := beamSearch(src, 1, 4, o)
		want := &Result{Tokens: [][]int{c.want}, Ended: []bool{true}, Width: 3, Pad: -1}
		if d := cmp.Diff(want, g); d != "" {
			t.Errorf("%s, %d beams in %d groups (-want +got):\n%s", c.strategy, c.beams, c.groups, d)
		}
	}
}

// rowSource serves fixed logits per image: next(image, prefix). It follows
// the images through Reorder.
type rowSource struct {
	next   func(img int, seq []int) []float32
	imgs   []int
	seqs   [][]int
	logits []float32
}

func (s *rowSource) Step(tokens []int) []float32 {
	s.logits = s.logits[:0]
	for i, t := range tokens {
		s.seqs[i] = append(s.seqs[i], t)
		s.logits = append(s.logits, s.next(s.imgs[i], s.seqs[i])...)
	}
	return s.logits
}

func (s *rowSource) Reorder(src []int) {
	imgs, seqs := make([]int, len(src)), make([][]int, len(src))
	for i, r := range src {
		imgs[i], seqs[i] = s.imgs[r], slices.Clone(s.seqs[r])
	}
	s.imgs, s.seqs = imgs, seqs
}

// TestSampleRowsEdges checks open_clip's loop rules for greedy decoding on
// hand-made logits (vocabulary: 0 pad, 1 start, 2 end, 3 a, 4 b; MaxLen 5,
// MinLen 3): image 0 always prefers a, so its fifth token is the end token
// written at the last position; image 1 prefers b, then the pad, which
// closes it (open_clip's row holds the pad); image 2 prefers the end token
// every step, suppressed while it holds fewer than 3 tokens (then its second
// choice a, then b). The output is as wide as the longest row, the pad of
// image 1 counting, or MaxLen with FixedLength.
func TestSampleRowsEdges(t *testing.T) {
	next := func(img int, seq []int) []float32 {
		switch img {
		case 0:
			return []float32{0, -1, 1, 5, 2}
		case 1:
			if len(seq) == 1 {
				return []float32{0, -1, 1, 2, 5}
			}
			return []float32{6, -1, 1, 2, 5}
		}
		if len(seq) == 2 {
			return []float32{0, -1, 9, 1, 2}
		}
		return []float32{0, -1, 9, 2, 1}
	}
	run := func(imgs []int, fixed bool, strategy string) *Result {
		src := &rowSource{next: next, imgs: imgs, seqs: make([][]int, len(imgs))}
		o, err := Options{Strategy: strategy, MaxLen: 5, MinLen: 3, Start: 1, End: 2, FixedLength: fixed}.Resolve(5, 12, 0)
		if err != nil {
			t.Fatal(err)
		}
		return sampleRows(src, len(imgs), 5, o)
	}
	for _, c := range []struct {
		imgs   []int
		fixed  bool
		matrix [][]int
		ended  []bool
	}{
		{[]int{0, 1, 2}, false, [][]int{{1, 3, 3, 3, 2}, {1, 4, 0, 0, 0}, {1, 3, 4, 2, 0}}, []bool{true, false, true}},
		{[]int{1, 2}, false, [][]int{{1, 4, 0, 0}, {1, 3, 4, 2}}, []bool{false, true}},
		{[]int{1}, false, [][]int{{1, 4, 0}}, []bool{false}},
		{[]int{1}, true, [][]int{{1, 4, 0, 0, 0}}, []bool{false}},
	} {
		for _, strategy := range []string{Greedy, TopK} {
			g := run(c.imgs, c.fixed, strategy)
			if d := cmp.Diff(c.matrix, g.Matrix()); d != "" {
				t.Errorf("%s images %v fixed %v: matrix (-want +got):\n%s", strategy, c.imgs, c.fixed, d)
			}
			if d := cmp.Diff(c.ended, g.Ended); d != "" {
				t.Errorf("%s images %v: ended (-want +got):\n%s", strategy, c.imgs, d)
			}
			for i, row := range g.Tokens {
				if slices.Contains(row, 0) {
					t.Errorf("images %v: row %d %v holds the pad token", c.imgs, i, row)
				}
			}
		}
	}
}

// TestRepetitionPenalty checks HF's rule on one row: each distinct token
// of the prefix once, positive logits divided, negative multiplied.
func TestRepetitionPenalty(t *testing.T) {
	o := Options{RepetitionPenalty: 2, End: -1}
	row := []float32{1, -1, 4, -3, 5}
	o.process(row, []int{0, 1, 2, 2, 1})
	want := []float32{0.5, -2, 2, -3, 5}
	if !slices.Equal(row, want) {
		t.Fatalf("%v, want %v", row, want)
	}
	o = Options{RepetitionPenalty: 1, End: 3, MinLen: 4}
	o.process(row, []int{0, 1, 2})
	if !math.IsInf(float64(row[3]), -1) {
		t.Fatalf("end token not suppressed below MinLen: %v", row)
	}
}

// TestSamplerDistribution draws many tokens and compares the frequencies
// with the filtered, tempered softmax computed by hand.
func TestSamplerDistribution(t *testing.T) {
	logits := []float32{2, 1, 0.5, -1, 0, 1.5}
	const n = 40000
	check := func(name string, o Options, want []float64) {
		rng := rand.New(rand.NewPCG(3, 4))
		var s sampler
		counts := make([]float64, len(logits))
		for i := 0; i < n; i++ {
			counts[s.sample(slices.Clone(logits), o, rng)]++
		}
		for i := range want {
			p := counts[i] / n
			sd := math.Sqrt(want[i]*(1-want[i])/n) + 1e-9
			if math.Abs(p-want[i]) > 5*sd+1e-12 {
				t.Errorf("%s: token %d frequency %.4f, want %.4f", name, i, p, want[i])
			}
		}
	}
	soft := func(t float64, keep ...int) []float64 {
		p := make([]float64, len(logits))
		sum := 0.0
		for _, i := range keep {
			p[i] = math.Exp(float64(logits[i]) / t)
			sum += p[i]
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	check("top-k 3 T=1", Options{Strategy: TopK, TopK: 3, Temperature: 1}, soft(1, 0, 5, 1))
	check("top-k 2 T=0.5", Options{Strategy: TopK, TopK: 2, Temperature: 0.5}, soft(0.5, 0, 5))
	// Probabilities at T=1: token 0 0.420, 5 0.255, 1 0.154, 2 0.094, 4 0.057, 3 0.021.
	// p = 0.6: ascending cumulative 0.021, 0.078, 0.171, 0.326 (≤ 0.4, dropped), 0.580 kept.
	full := soft(1, 0, 1, 2, 3, 4, 5)
	asc := []int{3, 4, 2, 1, 5, 0}
	cum, keep := 0.0, []int{}
	for _, i := range asc {
		cum += full[i]
		if cum > 1-0.6 {
			keep = append(keep, i)
		}
	}
	if fmt.Sprint(keep) != "[5 0]" {
		t.Fatalf("hand-computed nucleus %v", keep)
	}
	check("top-p 0.6 T=2", Options{Strategy: TopP, TopP: 0.6, Temperature: 2}, soft(2, 0, 5))
	check("top-p 1 T=1", Options{Strategy: TopP, TopP: 1, Temperature: 1}, full)
}

// TestGenerateOptionDefaults checks that what the field comments promise is
// what an unset field gets, and that OpenCLIP are the
// defaults of open_clip 2.29's CoCa.generate signature (seq_len=30,
// generation_type="beam_search", top_p=0.1, top_k=1, num_beams=6,
// num_beam_groups=3, min_seq_len=5, repetition_penalty=1.0,
// temperature=1.0, eos 49407, sot 49406, pad the model's pad_id).
func TestGenerateOptionDefaults(t *testing.T) {
	for _, c := range []struct {
		in, want Options
	}{
		{Options{}, Options{MaxLen: 30, MinLen: 0, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: Greedy, Temperature: 1, RepetitionPenalty: 1}},
		{Options{Strategy: Beam}, Options{MaxLen: 30, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: Beam, Beams: 6, BeamGroups: 1, Temperature: 1, RepetitionPenalty: 1}},
		{Options{Strategy: TopK}, Options{MaxLen: 30, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: TopK, TopK: 1, Temperature: 1, RepetitionPenalty: 1}},
		{Options{Strategy: TopP, MaxLen: 100, Pad: -1}, Options{MaxLen: 40, Start: StartOfText, End: EndOfText, Pad: -1,
			Strategy: TopP, TopP: 0.1, Temperature: 1, RepetitionPenalty: 1}},
	} {
		got, err := c.in.Resolve(EndOfText+1, 40, 7)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%+v resolves (-want +got):\n%s", c.in, d)
		}
	}
	want := Options{MaxLen: 30, MinLen: 5, Start: 49406, End: 49407, Strategy: Beam, Beams: 6, BeamGroups: 3,
		LengthPenalty: 1, TopK: 1, TopP: 0.1, Temperature: 1, RepetitionPenalty: 1}
	if d := cmp.Diff(want, OpenCLIP); d != "" {
		t.Errorf("OpenCLIP (-open_clip +ours):\n%s", d)
	}
}
