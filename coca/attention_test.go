package coca

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
)

// attendWith applies attention probabilities (H, Lq, Lk) to the values of
// a for xkv and the output projection: what a.Forward computes.
func attendWith(a *nn.MultiheadAttention, probs []float32, xkv *tensor.Tensor, lq int) []float32 {
	w, h := a.Width(), a.Heads
	hd := w / h
	wv := a.VProjWeight
	if a.InProjWeight != nil {
		wv = tensor.Rows(a.InProjWeight, 2*w, 3*w)
	}
	v := tensor.Linear(xkv, wv, tensor.Rows(a.InProjBias, 2*w, 3*w)).Data()
	lk := len(v) / w
	merged := make([]float32, lq*w)
	for hh := 0; hh < h; hh++ {
		for i := 0; i < lq; i++ {
			for j := 0; j < lk; j++ {
				p := probs[(hh*lq+i)*lk+j]
				for c := 0; c < hd; c++ {
					merged[i*w+hh*hd+c] += p * v[j*w+hh*hd+c]
				}
			}
		}
	}
	return a.OutProj.Forward(tensor.FromSlice(merged, 1, lq, w)).Data()
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestAttentionProbs checks the probabilities read from a layer's
// parameters against the layer itself: applied to its values and output
// projection they give its output, for packed (decoder cross-attention,
// parallel pooler) and separate (legacy pooler) projections.
func TestAttentionProbs(t *testing.T) {
	sc := tensor.NoGrad()
	defer sc.End()
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(shape ...int) *tensor.Tensor {
		x := tensor.Zeros(shape...)
		for i := range x.Data() {
			x.Data()[i] = float32(rng.NormFloat64())
		}
		return x
	}
	tiny := tinyModel(t) // legacy pooler: separate q/k/v weights
	par, _ := Builtin("coca_shapes")
	par.Text.VocabSize, par.Multimodal.VocabSize = 64, 64
	pm := New(par)
	pm.Init(3)
	for _, c := range []struct {
		name string
		a    *nn.MultiheadAttention
		kv   int
	}{
		{"tiny decoder cross-attention", tiny.TextDecoder.CrossAttn[1].Attn, 32},
		{"tiny legacy pooler", tiny.Visual.AttnPool.Attn, 48},
		{"coca_shapes parallel pooler", pm.Visual.AttnPool.Attn, 64},
	} {
		xq, xkv := sc.Use(randn(1, 5, c.a.Width())), sc.Use(randn(1, 9, c.kv))
		probs := attentionProbs(c.a, xq, xkv)
		got := attendWith(c.a, probs, xkv, 5)
		want := c.a.Forward(xq, xkv, nil, false).Data()
		// float64 scores here, the fused float32 kernel there: 2e-7 apart.
		if d := maxDiff(got, want); d > 1e-5 {
			t.Errorf("%s: max |diff| %g", c.name, d)
		}
		for r := 0; r < len(probs)/9; r++ {
			s := 0.0
			for _, p := range probs[r*9 : (r+1)*9] {
				s += float64(p)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("%s: row %d sums to %g", c.name, r, s)
			}
		}
	}
}

// TestCrossAttentionMaps checks that the maps come from the model's own
// passes (the pooler pass gives VisionTower.Forward's image tokens, the
// decoder pass MultimodalDecoder.Forward's logits, bit for bit) and that
// every map sums to 1.
func TestCrossAttentionMaps(t *testing.T) {
	sc := tensor.NoGrad()
	defer sc.End()
	for _, name := range []string{"tiny", "coca_shapes"} {
		var m *Model
		if name == "tiny" {
			m = tinyModel(t)
		} else {
			cfg, _ := Builtin("coca_shapes")
			cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 64, 64
			m = New(cfg)
			m.Init(9)
		}
		s := m.Config.Vision.ImageSize
		img := testImages(t, 1, s)
		tokens := []int{62, 5, 17, 9, 63}
		_, imgTokens := m.EncodeImage(img.tensor)
		pool, tok2 := m.poolerAttention(sc, sc.Use(img.tensor))
		if d := maxDiff(tok2.Data(), imgTokens.Data()); d != 0 {
			t.Fatalf("%s: pooler pass tokens differ by %g", name, d)
		}
		_, logits := m.decoderAttention(sc, tokens, sc.Use(imgTokens))
		_, txt := m.Text.forward(sc, tokens, 1, len(tokens))
		want := m.TextDecoder.Forward(tensor.Slice(txt, 1, 0, len(tokens)-1), sc.Use(imgTokens)).Data()
		if d := maxDiff(logits.Data(), want); d != 0 {
			t.Errorf("%s: decoder pass logits differ from MultimodalDecoder.Forward by %g", name, d)
		}
		maps, err := m.CrossAttention(img.tensor, tokens)
		if err != nil {
			t.Fatal(err)
		}
		g := m.Config.Grid()
		if maps.Grid != g || len(maps.Maps) != 4 || len(maps.Maps[0]) != g*g || len(maps.Pooled[0]) != m.Config.ImageTokens() || len(pool) != m.Config.ImageTokens()*(g*g+1) {
			t.Fatalf("%s: shapes %d %d %d %d", name, maps.Grid, len(maps.Maps), len(maps.Maps[0]), len(maps.Pooled[0]))
		}
		for j := range maps.Maps {
			for _, row := range [][]float32{maps.Maps[j], maps.Pooled[j]} {
				s := 0.0
				for _, v := range row {
					s += float64(v)
				}
				if math.Abs(s-1) > 1e-5 {
					t.Fatalf("%s: token %d: map sums to %g", name, j, s)
				}
			}
		}
	}
	m := tinyModel(t)
	m.QuantizeBF16()
	if _, err := m.CrossAttention(testImages(t, 1, 32).tensor, []int{62, 1, 63}); err == nil {
		t.Error("bfloat16 weights: no error")
	}
}
