package coca

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// served is what one inference call returns, in comparable form.
type served struct {
	features, tokens, text []uint32
	captions               [][]int
}

func bits(x []float32) []uint32 {
	out := make([]uint32, len(x))
	for i, v := range x {
		out[i] = math.Float32bits(v)
	}
	return out
}

// TestConcurrentInference (acceptance; run it with -race): 8 goroutines
// share one loaded model each of float32 and bfloat16 weights, mixing
// EncodeImage, EncodeText and Generate (greedy and beam search), half of
// them passing their images in a no-grad scope of their own, while another
// goroutine trains a second model (forward, both losses, backward,
// AdamW). No panic, no data race, and every result equals, bit for bit,
// the one computed alone beforehand.
func TestConcurrentInference(t *testing.T) {
	m32, images := tinyFixture(t)
	m16, _ := tinyFixture(t)
	m16.QuantizeBF16()
	ids, b, l := fixtureText(t)
	end := fixtureEnd(t, m32, images)
	greedy := GenerateOptions{MaxLen: 10, MinLen: 3, Start: 62, End: end}
	beam := GenerateOptions{MaxLen: 8, MinLen: 2, Start: 62, End: end, Strategy: StrategyBeam, Beams: 3, LengthPenalty: 1}

	call := func(m *Model, kind int, scoped bool) served {
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
		}
		return r
	}
	models := []*Model{m32, m16}
	want := map[string]served{}
	key := func(mi, kind int) string { return fmt.Sprintf("%d/%d", mi, kind) }
	for mi, m := range models {
		for kind := range 4 {
			want[key(mi, kind)] = call(m, kind, false)
		}
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
			for i := range 6 {
				mi, kind := (g+i)%2, (g+3*i)%4
				got := call(models[mi], kind, g%2 == 1)
				w := want[key(mi, kind)]
				if !slices.Equal(got.features, w.features) || !slices.Equal(got.tokens, w.tokens) ||
					!slices.Equal(got.text, w.text) || !slices.EqualFunc(got.captions, w.captions, slices.Equal) {
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
