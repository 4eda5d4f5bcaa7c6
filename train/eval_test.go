package train

import (
	"math/rand/v2"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gonum.org/v1/gonum/mat"
)

// evalModel is a small model with CLIP's vocabulary and a 6-token context.
func evalModel(t *testing.T, seed uint64) *coca.Model {
	t.Helper()
	cfg := coca.Config{EmbedDim: 32,
		Vision: coca.VisionConfig{ImageSize: 16, PatchSize: 8, Width: 32, Layers: 1, HeadWidth: 16, MLPRatio: 4,
			AttentionalPool: coca.PoolLegacy, AttnPoolerQueries: 5, AttnPoolerHeads: 4},
		Text:       coca.TextConfig{ContextLength: 6, VocabSize: 49408, Width: 32, Heads: 4, Layers: 1, MLPRatio: 4},
		Multimodal: coca.MultimodalConfig{ContextLength: 6, VocabSize: 49408, Width: 32, Heads: 4, Layers: 1, MLPRatio: 4},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := coca.New(&cfg)
	m.Init(seed)
	return m
}

func param(t *testing.T, m *coca.Model, name string) []float32 {
	t.Helper()
	for _, p := range m.Params() {
		if p.Name == name {
			return p.Tensor.Data()
		}
	}
	t.Fatalf("no parameter %s", name)
	return nil
}

func noiseImages(n, size int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*3*size*size)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestEvaluateHandWorked runs evaluate on a model whose figures can be
// worked out by hand: zero image and text projections make every feature
// 0, so every similarity ties and each argmax is the first candidate; the
// decoder's final LayerNorm outputs ones (weight 0, bias 1) and its
// projection has only the column of "cat" set, so greedy decoding writes
// "cat" at each of the 5 places the 6-token context leaves.
//
// Held-out captions: [cat×5, "a dog", cat×5, "Cat  cat cat cat CAT"];
// distinct texts (exact strings): cat×5, "a dog", "Cat  cat…" (3).
//   - image→text R@1: every image picks text 0 (cat×5): images 0 and 2 are
//     right, 2/4 = 0.5;
//   - text→image R@1: every text picks image 0, whose caption is cat×5: text 0
//     only, 1/3 (the denominator is the distinct texts);
//   - caption exact match: "cat cat cat cat cat" equals captions 0, 2 and,
//     lower-cased with spaces collapsed, 3: 3/4 = 0.75;
//   - zero-shot top-1: every image picks class 0; labels [2 0 0 1]: 2/4 = 0.5.
func TestEvaluateHandWorked(t *testing.T) {
	tok := tokenizer.New()
	m := evalModel(t, 1)
	clear(param(t, m, "visual.proj"))
	clear(param(t, m, "text.text_projection"))
	clear(param(t, m, "text_decoder.ln_final.weight"))
	for i, b := 0, param(t, m, "text_decoder.ln_final.bias"); i < len(b); i++ {
		b[i] = 1
	}
	cat := tok.Encode("cat")
	if len(cat) != 1 {
		t.Fatalf("\"cat\" is %d tokens", len(cat))
	}
	proj := param(t, m, "text_decoder.text_projection") // (W, V)
	clear(proj)
	for r := 0; r < 32; r++ {
		proj[r*49408+cat[0]] = 1
	}
	cat5 := "cat cat cat cat cat"
	held := memEvalSet(noiseImages(4, 16, 1), []string{cat5, "a dog", cat5, "Cat  cat cat cat CAT"}, nil, 16)
	zs := memEvalSet(noiseImages(4, 16, 2), make([]string, 4), []int{2, 0, 0, 1}, 16)
	got, err := evaluate(m, tok, held, zs, []string{"a photo of a cat", "a dog", "a car"}, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := Metrics{ImageToTextR1: 0.5, TextToImageR1: 1.0 / 3, ZeroShotTop1: ptr(0.5), CaptionExactMatch: 0.75,
		Samples: []Sample{{Index: 0, Caption: cat5, Generated: cat5}, {Index: 1, Caption: "a dog", Generated: cat5}}}
	if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12), cmp.Transformer("trim", normalizeCaption),
		cmpopts.IgnoreFields(Sample{}, "Image", "Size")); d != "" {
		t.Fatalf("(-hand-worked +evaluate):\n%s", d)
	}
}

// TestEvaluateMatchesOracle compares evaluate's retrieval and zero-shot
// figures for a randomly initialised model with an independent float64
// computation: the features from EncodeImage and EncodeText as gonum
// matrices, S = I·Tᵀ, argmax per row (image→text) and per column
// (text→image), and per zero-shot image over the class features.
func TestEvaluateMatchesOracle(t *testing.T) {
	tok := tokenizer.New()
	for _, seed := range []uint64{3, 4, 5} {
		m := evalModel(t, seed)
		caps := []string{"a red square", "a blue circle", "two dogs", "a red square", "a car", "green", "a cat", "a red circle"}
		classes := []string{"square", "circle", "dog", "car"}
		labels := []int{0, 1, 2, 3, 1, 0}
		held := memEvalSet(noiseImages(len(caps), 16, seed), caps, nil, 16)
		zs := memEvalSet(noiseImages(len(labels), 16, seed+100), make([]string, len(labels)), labels, 16)
		got, err := evaluate(m, tok, held, zs, classes, 6, 0)
		if err != nil {
			t.Fatal(err)
		}

		feats := func(f *tensor.Tensor) *mat.Dense {
			d := make([]float64, f.Numel())
			for i, x := range f.Data() {
				d[i] = float64(x)
			}
			return mat.NewDense(f.Dim(0), f.Dim(1), d)
		}
		text := func(ts []string) *mat.Dense {
			var ids []int
			for _, s := range ts {
				ids = append(ids, tok.Tokenize(s, 6)...)
			}
			return feats(m.EncodeText(ids, len(ts), 6))
		}
		var distinct []string
		for _, c := range caps {
			if !contains(distinct, c) {
				distinct = append(distinct, c)
			}
		}
		fi, _ := m.EncodeImage(held.batchImages(0, len(caps)))
		var s mat.Dense
		s.Mul(feats(fi), text(distinct).T())
		i2t, t2i := 0, 0
		for i := range caps {
			if distinct[argmaxRow(s.RawRowView(i))] == caps[i] {
				i2t++
			}
		}
		for j := range distinct {
			col := mat.Col(nil, j, &s)
			if caps[argmaxRow(col)] == distinct[j] {
				t2i++
			}
		}
		zf, _ := m.EncodeImage(zs.batchImages(0, len(labels)))
		var z mat.Dense
		z.Mul(feats(zf), text(classes).T())
		zsOK := 0
		for i, l := range labels {
			if argmaxRow(z.RawRowView(i)) == l {
				zsOK++
			}
		}
		want := Metrics{ImageToTextR1: float64(i2t) / float64(len(caps)), TextToImageR1: float64(t2i) / float64(len(distinct)),
			ZeroShotTop1: ptr(float64(zsOK) / float64(len(labels))), CaptionExactMatch: got.CaptionExactMatch}
		t.Logf("seed %d: i2t %d/%d, t2i %d/%d, zero-shot %d/%d", seed, i2t, len(caps), t2i, len(distinct), zsOK, len(labels))
		if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
			t.Fatalf("seed %d (-gonum +evaluate):\n%s", seed, d)
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// argmaxRow returns the first index of the largest value.
func argmaxRow(x []float64) int {
	b := 0
	for i, v := range x {
		if v > x[b] {
			b = i
		}
	}
	return b
}
