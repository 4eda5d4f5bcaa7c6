package coca

import (
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

// argmax returns the index of the largest value (the first of equal ones).
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
