package coca

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/google/go-cmp/cmp"
)

// tinyFixture loads the tiny open_clip fixture model and its four images.
func tinyFixture(t testing.TB) (*Model, *tensor.Tensor) {
	t.Helper()
	dir := "../golden/testdata/tiny"
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(cfg)
	if err := m.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := f.Float32("input.image")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info("input.image")
	return m, tensor.FromSlice(img, info.Shape...)
}

// imageRow returns image i of a batch as a batch of one.
func imageRow(images *tensor.Tensor, i int) *tensor.Tensor {
	per := images.Numel() / images.Dim(0)
	return tensor.FromSlice(slices.Clone(images.Data()[i*per:(i+1)*per]), append([]int{1}, images.Shape()[1:]...)...)
}

// fixtureEnd picks, as end token, a token that greedy decoding produces
// mid-caption for some image, so that end-of-text handling is exercised.
func fixtureEnd(t testing.TB, m *Model, images *tensor.Tensor) int {
	free := m.GenerateGreedy(images, GenerateOptions{MaxLen: 12, Start: 62, End: -1})
	return free[1][4]
}

func strategyCases(end int) map[string]GenerateOptions {
	base := GenerateOptions{MaxLen: 12, MinLen: 3, Start: 62, End: end}
	with := func(f func(*GenerateOptions)) GenerateOptions { o := base; f(&o); return o }
	return map[string]GenerateOptions{
		"greedy":            with(func(o *GenerateOptions) { o.Strategy = StrategyGreedy }),
		"greedy-repetition": with(func(o *GenerateOptions) { o.RepetitionPenalty = 1.5 }),
		"beam":              with(func(o *GenerateOptions) { o.Strategy, o.Beams, o.LengthPenalty = StrategyBeam, 6, 1 }),
		"beam-groups":       with(func(o *GenerateOptions) { o.Strategy, o.Beams, o.BeamGroups, o.LengthPenalty = StrategyBeam, 6, 3, 1 }),
		"beam-logprob":      with(func(o *GenerateOptions) { o.Strategy, o.Beams, o.LengthPenalty = StrategyBeamLogProb, 4, 1 }),
		"beam3-noend":       with(func(o *GenerateOptions) { o.Strategy, o.Beams, o.End = StrategyBeam, 3, -1 }),
		"beam-repetition": with(func(o *GenerateOptions) {
			o.Strategy, o.Beams, o.LengthPenalty, o.RepetitionPenalty = StrategyBeam, 4, 1, 1.3
		}),
		"top-k": with(func(o *GenerateOptions) { o.Strategy, o.TopK, o.Temperature, o.Seed = StrategyTopK, 5, 1.5, 7 }),
		"top-p": with(func(o *GenerateOptions) { o.Strategy, o.TopP, o.Temperature, o.Seed = StrategyTopP, 0.8, 2, 11 }),
	}
}

// TestGenerateCachedMatchesUncached checks that every strategy gives the
// same tokens with the KV-cached decoder as with full recomputation.
func TestGenerateCachedMatchesUncached(t *testing.T) {
	m, images := tinyFixture(t)
	end := fixtureEnd(t, m, images)
	for name, o := range strategyCases(end) {
		t.Run(name, func(t *testing.T) {
			got, err := m.Generate(images, o)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := m.GenerateReference(images, o)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ref {
				if !slices.Equal(got[i], ref[i]) {
					t.Fatalf("image %d: cached %v, uncached %v", i, got[i], ref[i])
				}
				if len(got[i]) > o.MaxLen || got[i][0] != o.Start {
					t.Fatalf("image %d: %v: wrong start or longer than %d", i, got[i], o.MaxLen)
				}
				for j := 1; j < len(got[i]); j++ {
					if got[i][j] == o.End && o.End >= 0 && (j < o.MinLen || j != len(got[i])-1) {
						t.Fatalf("image %d: end token at %d in %v (min length %d)", i, j, got[i], o.MinLen)
					}
				}
			}
			t.Logf("%v", got)
		})
	}
}

// TestGenerateBatchedMatchesSingle checks that a batch decodes each image
// as it would alone, for greedy decoding, beam search and sampling (with
// RowOffset giving the image its stream).
func TestGenerateBatchedMatchesSingle(t *testing.T) {
	m, images := tinyFixture(t)
	end := fixtureEnd(t, m, images)
	cases := strategyCases(end)
	for _, name := range []string{"greedy", "beam", "beam-groups", "beam-logprob", "beam3-noend", "beam-repetition", "top-k", "top-p"} {
		o := cases[name]
		t.Run(name, func(t *testing.T) {
			all, err := m.Generate(images, o)
			if err != nil {
				t.Fatal(err)
			}
			for i := range all {
				o1 := o
				o1.RowOffset = i
				one, err := m.Generate(imageRow(images, i), o1)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(one[0], all[i]) {
					t.Fatalf("image %d: alone %v, in the batch %v", i, one[0], all[i])
				}
			}
		})
	}
}

// TestGenerateGreedyEquivalents checks strategies that must reduce to
// greedy decoding: Generate's greedy, top-k with k = 1 and top-p with a
// vanishing nucleus give the same rows, which are GenerateGreedy's except
// that a row still open at the last position ends with the end token there
// (open_clip's rule).
func TestGenerateGreedyEquivalents(t *testing.T) {
	m, images := tinyFixture(t)
	end := fixtureEnd(t, m, images)
	base := GenerateOptions{MaxLen: 12, MinLen: 2, Start: 62, End: end}
	plain := m.GenerateGreedy(images, base)
	want := make([][]int, len(plain))
	forced := 0
	for i, p := range plain {
		want[i] = slices.Clone(p)
		if p[len(p)-1] != end {
			if len(p) != base.MaxLen {
				t.Fatalf("GenerateGreedy row %d: %v stops early without the end token", i, p)
			}
			want[i][len(p)-1] = end
			forced++
		}
	}
	if forced == 0 || forced == len(plain) {
		t.Fatalf("%d of %d rows end at MaxLen: the test needs both kinds", forced, len(plain))
	}
	for _, f := range []func(*GenerateOptions){
		func(o *GenerateOptions) { o.Strategy = StrategyGreedy },
		func(o *GenerateOptions) { o.Strategy, o.TopK, o.Temperature, o.Seed = StrategyTopK, 1, 3, 5 },
		func(o *GenerateOptions) { o.Strategy, o.TopP, o.Seed = StrategyTopP, 1e-9, 5 },
	} {
		o := base
		f(&o)
		got, err := m.Generate(images, o)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s: rows differ from greedy decoding (-want +got):\n%s", o.Strategy, d)
		}
	}
}

// TestGenerateSeeded checks that sampling is reproducible for a seed and
// varies with it, and that MaxLen is capped at the context length.
func TestGenerateSeeded(t *testing.T) {
	m, images := tinyFixture(t)
	o := GenerateOptions{MaxLen: 100, Start: 62, End: -1, Strategy: StrategyTopK, TopK: 20, Temperature: 2, Seed: 1}
	a, _ := m.Generate(images, o)
	b, _ := m.Generate(images, o)
	o.Seed = 2
	c, _ := m.Generate(images, o)
	same := true
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("seed 1 twice: %v then %v", a[i], b[i])
		}
		if len(a[i]) != 12 {
			t.Fatalf("%d tokens with MaxLen 100 and context 12", len(a[i]))
		}
		same = same && slices.Equal(a[i], c[i])
	}
	if same {
		t.Fatalf("seeds 1 and 2 gave the same %d samples", len(a))
	}
}

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
// (log_softmax of the rows above), so StrategyBeamLogProb gives [0 a end].
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
		{StrategyBeam, 2, 1, []int{0, 3, 1}},
		{StrategyBeam, 4, 2, []int{0, 3, 1}},
		{StrategyBeamLogProb, 2, 1, []int{0, 2, 1}},
	} {
		src := &rowSource{next: next, imgs: []int{0}, seqs: [][]int{{}}}
		o, err := GenerateOptions{Strategy: c.strategy, Beams: c.beams, BeamGroups: c.groups, LengthPenalty: 1,
			MaxLen: 4, Start: 0, End: 1, Pad: -1}.resolve(4, 12, 0)
		if err != nil {
			t.Fatal(err)
		}
		g := beamSearch(src, 1, 4, o)
		want := &Generation{Tokens: [][]int{c.want}, Ended: []bool{true}, Width: 3, Pad: -1}
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
	run := func(imgs []int, fixed bool, strategy string) *Generation {
		src := &rowSource{next: next, imgs: imgs, seqs: make([][]int, len(imgs))}
		o, err := GenerateOptions{Strategy: strategy, MaxLen: 5, MinLen: 3, Start: 1, End: 2, FixedLength: fixed}.resolve(5, 12, 0)
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
		for _, strategy := range []string{StrategyGreedy, StrategyTopK} {
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
	o := GenerateOptions{RepetitionPenalty: 2, End: -1}
	row := []float32{1, -1, 4, -3, 5}
	o.process(row, []int{0, 1, 2, 2, 1})
	want := []float32{0.5, -2, 2, -3, 5}
	if !slices.Equal(row, want) {
		t.Fatalf("%v, want %v", row, want)
	}
	o = GenerateOptions{RepetitionPenalty: 1, End: 3, MinLen: 4}
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
	check := func(name string, o GenerateOptions, want []float64) {
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
	check("top-k 3 T=1", GenerateOptions{Strategy: StrategyTopK, TopK: 3, Temperature: 1}, soft(1, 0, 5, 1))
	check("top-k 2 T=0.5", GenerateOptions{Strategy: StrategyTopK, TopK: 2, Temperature: 0.5}, soft(0.5, 0, 5))
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
	check("top-p 0.6 T=2", GenerateOptions{Strategy: StrategyTopP, TopP: 0.6, Temperature: 2}, soft(2, 0, 5))
	check("top-p 1 T=1", GenerateOptions{Strategy: StrategyTopP, TopP: 1, Temperature: 1}, full)
}

// TestGenerateOptionErrors checks that bad options are errors.
func TestGenerateOptionErrors(t *testing.T) {
	m, images := tinyFixture(t)
	for _, o := range []GenerateOptions{
		{Strategy: "sample", Start: 62, End: 63},
		{Strategy: StrategyTopP, TopP: 1.5, Start: 62, End: 63},
		{Strategy: StrategyBeam, Beams: -1, Start: 62, End: 63},
		{Strategy: StrategyTopK, TopK: -2, Start: 62, End: 63},
		{Temperature: -1, Start: 62, End: 63},
		{RepetitionPenalty: -1, Start: 62, End: 63},
		{Start: 64, End: 63},
		{Start: 62, End: 64},
		{Start: 62, End: 62},
		{Start: 62, End: 63, Pad: 62},
		{Start: 62, End: 63, Pad: 64},
		{Start: 62, End: 63, MaxLen: 5, MinLen: 5},
		{Start: 62, End: 63, MaxLen: 1},
		{Strategy: StrategyBeam, Beams: 6, BeamGroups: 4, Start: 62, End: 63},
		{Strategy: StrategyBeam, Beams: 6, BeamGroups: -1, Start: 62, End: 63},
		{},
	} {
		if _, err := m.Generate(images, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestGenerateOptionDefaults checks that what the field comments promise is
// what an unset field gets, and that OpenCLIPGenerateOptions are the
// defaults of open_clip 2.29's CoCa.generate signature (seq_len=30,
// generation_type="beam_search", top_p=0.1, top_k=1, num_beams=6,
// num_beam_groups=3, min_seq_len=5, repetition_penalty=1.0,
// temperature=1.0, eos 49407, sot 49406, pad the model's pad_id).
func TestGenerateOptionDefaults(t *testing.T) {
	for _, c := range []struct {
		in, want GenerateOptions
	}{
		{GenerateOptions{}, GenerateOptions{MaxLen: 30, MinLen: 0, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: StrategyGreedy, Temperature: 1, RepetitionPenalty: 1}},
		{GenerateOptions{Strategy: StrategyBeam}, GenerateOptions{MaxLen: 30, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: StrategyBeam, Beams: 6, BeamGroups: 1, Temperature: 1, RepetitionPenalty: 1}},
		{GenerateOptions{Strategy: StrategyTopK}, GenerateOptions{MaxLen: 30, Start: StartOfText, End: EndOfText, Pad: 7,
			Strategy: StrategyTopK, TopK: 1, Temperature: 1, RepetitionPenalty: 1}},
		{GenerateOptions{Strategy: StrategyTopP, MaxLen: 100, Pad: -1}, GenerateOptions{MaxLen: 40, Start: StartOfText, End: EndOfText, Pad: -1,
			Strategy: StrategyTopP, TopP: 0.1, Temperature: 1, RepetitionPenalty: 1}},
	} {
		got, err := c.in.resolve(EndOfText+1, 40, 7)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%+v resolves (-want +got):\n%s", c.in, d)
		}
	}
	want := GenerateOptions{MaxLen: 30, MinLen: 5, Start: 49406, End: 49407, Strategy: StrategyBeam, Beams: 6, BeamGroups: 3,
		LengthPenalty: 1, TopK: 1, TopP: 0.1, Temperature: 1, RepetitionPenalty: 1}
	if d := cmp.Diff(want, OpenCLIPGenerateOptions); d != "" {
		t.Errorf("OpenCLIPGenerateOptions (-open_clip +ours):\n%s", d)
	}
}
