package coca

import (
	"context"
	"image"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
)

// TestModelPrecisionConcurrent runs a coca_small model with bfloat16
// products (SetPrecision) and its float32 twin on goroutines at once:
// each gets, bit for bit, what it gets alone (the bfloat16 one: the
// float32 model's features on the CPUBF16 backend), so the precision is
// the model's, not the process's.
func TestModelPrecisionConcurrent(t *testing.T) {
	cfg, err := Builtin("coca_small")
	if err != nil {
		t.Fatal(err)
	}
	m32, mbf := New(cfg), New(cfg)
	m32.Init(1)
	mbf.Init(1)
	if err := mbf.SetPrecision(tensor.PrecisionBF16); err != nil {
		t.Fatal(err)
	}
	if m32.Precision() != tensor.PrecisionF32 || mbf.Precision() != tensor.PrecisionBF16 {
		t.Fatalf("precisions %v and %v, want f32 and bf16", m32.Precision(), mbf.Precision())
	}
	g := tensor.NewRNG(2)
	img := tensor.New(2, 3, cfg.Vision.ImageSize, cfg.Vision.ImageSize)
	g.Normal(img, 0, 1)
	l := cfg.Text.ContextLength
	text := make([]int, 2*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	encode := func(m *Model) []float32 {
		f, _ := m.EncodeImage(img)
		return append(append([]float32(nil), f.Data()...), m.EncodeText(text, 2, l).Data()...)
	}
	want32 := encode(m32)
	old := tensor.SetBackend(tensor.CPUBF16())
	wantBF := encode(m32)
	tensor.SetBackend(old)
	if slices.Equal(want32, wantBF) {
		t.Fatal("the CPUBF16 backend gave float32's features: the case tells nothing")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 4; i++ {
		m, want, what := m32, want32, "float32"
		if i%2 == 1 {
			m, want, what = mbf, wantBF, "bfloat16"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 2; r++ {
				if !slices.Equal(encode(m), want) {
					errs <- what
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for what := range errs {
		t.Errorf("the %s model, run beside the other, gave other features than alone", what)
	}
}

// TestOpenPrecision opens the trained coca_shapes model of
// testdata/shapes-easy with float32 products, with bfloat16 products
// (WithPrecision), and with both bfloat16 products and bfloat16 weights,
// and compares the image embeddings and greedy captions of 48 held-out
// images. Measured (AVX512_BF16): 1 − cosine at most 4.5e-5 (products)
// and 4.3e-5 (with weights), 0 and 1 of 48 captions different; bounds 5e-4
// and 3 of 48.
func TestOpenPrecision(t *testing.T) {
	const n = 48
	s, err := data.NewSynth(data.SynthConfig{Difficulty: data.SynthEasy, ImageSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for i := 0; i < n; i++ {
		img, _ := s.HeldOut().Sample(i)
		imgs = append(imgs, img)
	}
	run := func(opts ...OpenOption) (emb [][]float32, caps []string, info Info) {
		p, err := Open("testdata/shapes-easy", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if emb, err = p.Embed(context.Background(), imgs...); err != nil {
			t.Fatal(err)
		}
		res, err := p.CaptionBatch(context.Background(), imgs, WithGenerateOptions(GenerateOptions{Strategy: StrategyGreedy}))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			caps = append(caps, r.Captions[0].Text)
		}
		return emb, caps, p.Info()
	}
	e32, c32, i32 := run()
	if i32.Precision != "f32" {
		t.Errorf("default Info.Precision %q, want f32", i32.Precision)
	}
	for _, c := range []struct {
		what string
		opts []OpenOption
	}{
		{"bf16 products", []OpenOption{WithPrecision(tensor.PrecisionBF16)}},
		{"bf16 products and weights", []OpenOption{WithPrecision(tensor.PrecisionBF16), WithBF16()}},
	} {
		e, caps, info := run(c.opts...)
		if info.Precision != "bf16" {
			t.Errorf("%s: Info.Precision %q, want bf16", c.what, info.Precision)
		}
		var worst float64
		for i := range e {
			var ab, aa, bb float64
			for j := range e[i] {
				x, y := float64(e32[i][j]), float64(e[i][j])
				ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
			}
			worst = max(worst, 1-ab/math.Sqrt(aa*bb))
		}
		differ := 0
		for i := range caps {
			if caps[i] != c32[i] {
				differ++
			}
		}
		t.Logf("%s: 1 − cosine to float32 at most %.2g; %d of %d captions differ", c.what, worst, differ, n)
		if worst == 0 || worst > 5e-4 {
			t.Errorf("%s: image embeddings 1 − cosine %.3g from float32's, want in (0, 5e-4]", c.what, worst)
		}
		if differ > 3 {
			t.Errorf("%s: %d of %d greedy captions differ from float32's, want ≤ 3", c.what, differ, n)
		}
	}
}
