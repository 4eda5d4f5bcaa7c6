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
	for _, name := range []string{"greedy", "beam", "beam3-noend", "beam-repetition", "top-k", "top-p"} {
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
// greedy decoding: Generate's greedy, one beam without length
// normalisation, top-k with k = 1 and top-p with a vanishing nucleus.
func TestGenerateGreedyEquivalents(t *testing.T) {
	m, images := tinyFixture(t)
	end := fixtureEnd(t, m, images)
	base := GenerateOptions{MaxLen: 12, MinLen: 2, Start: 62, End: end}
	want := m.GenerateGreedy(images, base)
	for _, f := range []func(*GenerateOptions){
		func(o *GenerateOptions) { o.Strategy = StrategyGreedy },
		func(o *GenerateOptions) { o.Strategy, o.Beams = StrategyBeam, 1 },
		func(o *GenerateOptions) { o.Strategy, o.TopK, o.Temperature, o.Seed = StrategyTopK, 1, 3, 5 },
		func(o *GenerateOptions) { o.Strategy, o.TopP, o.Seed = StrategyTopP, 1e-9, 5 },
	} {
		o := base
		f(&o)
		got, err := m.Generate(images, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("%s: image %d: %v, greedy %v", o.Strategy, i, got[i], want[i])
			}
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

// TestBeamScoring checks the beam-search rules on a hand-made source
// whose next-token distribution is fixed: token 1 (end) has probability
// 0.4 after the start, and tokens 2 and 3 lead to certain continuations.
func TestBeamScoring(t *testing.T) {
	// Vocabulary 4: 0 start, 1 end, 2 and 3 words. After [0] the
	// probabilities are end 0.4, 2: 0.35, 3: 0.25; after any word, end has
	// probability 0.9.
	next := func(seq []int) []float64 {
		if len(seq) == 1 {
			return []float64{0, 0.4, 0.35, 0.25}
		}
		return []float64{0, 0.9, 0.05, 0.05}
	}
	m := &Model{Config: Config{Multimodal: MultimodalConfig{VocabSize: 4}}}
	for _, alpha := range []float64{0, 1, 2} {
		src := &tableSource{next: next, seqs: [][]int{{}}}
		o := GenerateOptions{Strategy: StrategyBeam, Beams: 2, LengthPenalty: alpha, MaxLen: 5, Start: 0, End: 1, Temperature: 1, RepetitionPenalty: 1}
		got := m.beamSearch(src, 1, o)[0]
		// Hypotheses: [0] end with log 0.4 / 1^α; [0 2] end: log(0.35·0.9) / 2^α;
		// [0 3] end: log(0.25·0.9) / 2^α.
		s1 := math.Log(0.4)
		s2 := math.Log(0.35*0.9) / math.Pow(2, alpha)
		want := []int{0, 1}
		if s2 > s1 {
			want = []int{0, 2, 1}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("α=%g: %v, want %v (scores %.3f, %.3f)", alpha, got, want, s1, s2)
		}
	}
}

// tableSource serves logits = log p from a function of the row's prefix.
type tableSource struct {
	next   func(seq []int) []float64
	seqs   [][]int
	logits []float32
}

func (s *tableSource) Step(tokens []int) []float32 {
	s.logits = s.logits[:0]
	for i, t := range tokens {
		s.seqs[i] = append(s.seqs[i], t)
		for _, p := range s.next(s.seqs[i]) {
			s.logits = append(s.logits, float32(math.Log(p)))
		}
	}
	return s.logits
}

func (s *tableSource) Reorder(src []int) {
	seqs := make([][]int, len(src))
	for i, r := range src {
		seqs[i] = slices.Clone(s.seqs[r])
	}
	s.seqs = seqs
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
		{},
	} {
		if _, err := m.Generate(images, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
