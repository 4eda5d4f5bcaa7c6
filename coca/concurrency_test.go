package coca

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// served is what one inference call returns, in comparable form.
type served struct {
	features, tokens, text []uint32
	imageFeatures          []uint32 // EncodeImageFeatures
	captions               [][]int
	pipeline               string // a Pipeline call's results, floats as their bits
}

// fingerprint writes v with every float as its bits, so that equal
// fingerprints mean bit-identical results.
func fingerprint(v ...any) string {
	var b strings.Builder
	for _, x := range v {
		switch x := x.(type) {
		case float64:
			fmt.Fprintf(&b, "%x ", math.Float64bits(x))
		case float32:
			fmt.Fprintf(&b, "%x ", math.Float32bits(x))
		case []float32:
			fmt.Fprintf(&b, "%x ", bits(x))
		default:
			fmt.Fprintf(&b, "%v ", x)
		}
	}
	return b.String()
}

func bits(x []float32) []uint32 {
	out := make([]uint32, len(x))
	for i, v := range x {
		out[i] = math.Float32bits(v)
	}
	return out
}

// TestConcurrentInference (acceptance; run it with -race): 8 goroutines
// share one loaded model each of float32, bfloat16 and int8 weights, mixing
// EncodeImage, EncodeImageFeatures, EncodeText and Generate (greedy and beam search), half of
// them passing their images in a no-grad scope of their own, and a
// Pipeline over each (CaptionBatch with beam search's n best, log
// likelihoods and embeddings; top-k sampling's n best after a prefix;
// ScoreTokens; CrossAttention), while another goroutine trains a second
// model (forward, both losses, backward, AdamW). No panic, no data race,
// and every result equals, bit for bit, the one computed alone
// beforehand.
func TestConcurrentInference(t *testing.T) {
	m32, images := tinyFixture(t)
	m16, _ := tinyFixture(t)
	m16.QuantizeBF16()
	m8, _ := tinyFixture(t)
	if err := m8.QuantizeInt8(); err != nil {
		t.Fatal(err)
	}
	models := []*Model{m32, m16, m8}
	pipes := []*Pipeline{openTiny(t), openTiny(t, WithBF16()), openTiny(t, WithInt8())}
	imgs := testImages(t, 3, 32).images
	ctx := context.Background()
	ids, b, l := fixtureText(t)
	end := fixtureEnd(t, m32, images)
	greedy := GenerateOptions{MaxLen: 10, MinLen: 3, Start: 62, End: end}
	beam := GenerateOptions{MaxLen: 8, MinLen: 2, Start: 62, End: end, Strategy: StrategyBeam, Beams: 3, LengthPenalty: 1}

	const kinds = 8
	call := func(mi, kind int, scoped bool) served {
		m, p := models[mi], pipes[mi]
		img := images
		if scoped {
			s := tensor.NoGrad()
			defer s.End()
			img = s.Use(images)
		}
		var r served
		switch kind {
		case 0:
			f, tok := m.EncodeImage(img)
			r.features, r.tokens = bits(f.Data()), bits(tok.Data())
			r.imageFeatures = bits(m.EncodeImageFeatures(img).Data())
		case 1:
			r.text = bits(m.EncodeText(ids, b, l).Data())
		case 2, 3:
			o := greedy
			if kind == 3 {
				o = beam
			}
			c, err := m.Generate(img, o)
			if err != nil {
				panic(err)
			}
			r.captions = c
		case 4:
			res, err := p.CaptionBatch(ctx, imgs, WithGenerateOptions(beam), WithNBest(2), WithLogProb(), WithEmbedding())
			for _, c := range res {
				for _, cp := range c.Captions {
					r.pipeline += fingerprint(cp.Tokens, cp.LogProb)
				}
				r.pipeline += fingerprint(c.Embedding)
			}
			r.pipeline += fingerprint(err)
		case 5:
			o := GenerateOptions{MaxLen: 9, Start: 62, End: end, Strategy: StrategyTopK, TopK: 3, Seed: 5, Prefix: []int{7, 9}}
			res, err := p.CaptionBatch(ctx, imgs, WithGenerateOptions(o), WithNBest(3))
			for _, c := range res {
				for _, cp := range c.Captions {
					r.pipeline += fingerprint(cp.Tokens)
				}
			}
			r.pipeline += fingerprint(err)
		case 6:
			sc, err := p.ScoreTokens(ctx, imgs[1], []int{62, 3, 9, 27, 63}, []int{62, 44, 63})
			for _, x := range sc {
				r.pipeline += fingerprint(x.LogProb, x.Tokens)
			}
			r.pipeline += fingerprint(err)
		case 7:
			a, err := p.CrossAttention(ctx, imgs[2], []int{62, 5, 17, 9, 63})
			if err == nil {
				for j := range a.Maps {
					r.pipeline += fingerprint(a.Maps[j], a.Pooled[j])
				}
			}
			r.pipeline += fingerprint(err)
		}
		return r
	}
	want := map[string]served{}
	key := func(mi, kind int) string { return fmt.Sprintf("%d/%d", mi, kind) }
	for mi := range models {
		for kind := range kinds {
			want[key(mi, kind)] = call(mi, kind, false)
		}
	}
	if want[key(0, 7)].pipeline == want[key(1, 7)].pipeline || want[key(0, 4)].pipeline == "" {
		t.Fatal("the sequential Pipeline results look wrong (cross-attention maps of bfloat16 weights, or no captions)")
	}

	cfg, _ := Builtin("coca_tiny")
	trained := New(cfg)
	trained.Init(7)
	var params []*tensor.Tensor
	for _, p := range trained.Params() {
		params = append(params, p.Tensor)
	}
	opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	timg := tensor.New(4, 3, cfg.Vision.ImageSize, cfg.Vision.ImageSize)
	tensor.NewRNG(8).Normal(timg, 0, 1)
	ttext := make([]int, 4*cfg.Text.ContextLength)
	for i := range ttext {
		ttext[i] = 1 + i%(cfg.Text.VocabSize-1)
	}

	var wg sync.WaitGroup
	errs := make(chan string, 64)
	done := make(chan struct{})
	var losses []float32
	wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				errs <- fmt.Sprintf("training: panic: %v", r)
			}
		}()
		for step := 0; ; step++ {
			select {
			case <-done:
				if step >= 3 {
					return
				}
			default:
			}
			out := trained.Forward(timg, ttext, 4, cfg.Text.ContextLength)
			loss := trained.Loss(out, ttext, 4, cfg.Text.ContextLength, DefaultLossWeights)
			losses = append(losses, loss.Total.Item())
			tensor.BackwardRelease(loss.Total, nil)
			opt.Step(1e-3)
			opt.ZeroGrad()
		}
	})
	var inference sync.WaitGroup
	for g := range 8 {
		inference.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Sprintf("goroutine %d: panic: %v", g, r)
				}
			}()
			for i := range len(models) * kinds {
				// every (model, kind, scoped) combination runs, on several
				// goroutines, each goroutine in its own order
				mi, kind := i%len(models), (i/len(models)+g)%kinds
				got := call(mi, kind, g%2 == 1)
				w := want[key(mi, kind)]
				if !slices.Equal(got.features, w.features) || !slices.Equal(got.tokens, w.tokens) ||
					!slices.Equal(got.imageFeatures, w.imageFeatures) ||
					!slices.Equal(got.text, w.text) || !slices.EqualFunc(got.captions, w.captions, slices.Equal) ||
					got.pipeline != w.pipeline {
					errs <- fmt.Sprintf("goroutine %d: model %d, call %d (scoped %v): result differs from the sequential one", g, mi, kind, g%2 == 1)
					return
				}
			}
		})
	}
	inference.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if len(losses) < 3 || !(losses[len(losses)-1] < losses[0]) {
		t.Errorf("the model trained alongside did not learn: losses %v", losses)
	}
}
