package coca

import (
	"fmt"
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestEncodeTextPrefix checks EncodeText, which computes a batch's texts
// only up to the last position the CLS row reads (TextTower.prefix),
// against the whole-context forward pass, for both CLS masks, a batch of
// texts of different lengths and texts with padding inside. Measured max
// |diff| of the normalised features: 6e-8 (the products of fewer rows
// may take another of the GEMM's kernels); held to 1e-6.
func TestEncodeTextPrefix(t *testing.T) {
	const l = 12
	rows := [][]int{
		{5, 9, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{7, 0, 4, 8, 2, 0, 0, 0, 0, 0, 0, 0}, // a pad inside
		{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // pad only
	}
	for _, correct := range []bool{false, true} {
		m := tinyModel(t)
		m.Text.correctMask = correct
		for _, c := range []struct {
			rows []int // indices into rows
			want int   // prefix: the last non-pad id + 2, at least 1
		}{{[]int{0}, 4}, {[]int{1}, 6}, {[]int{2}, 2}, {[]int{3}, 1}, {[]int{0, 1, 2, 3}, 6}} {
			t.Run(fmt.Sprintf("correct=%v/rows=%v", correct, c.rows), func(t *testing.T) {
				var ids []int
				for _, r := range c.rows {
					ids = append(ids, rows[r]...)
				}
				b := len(c.rows)
				if n := m.Text.prefix(ids, b, l); n != c.want {
					t.Fatalf("prefix %d, want %d", n, c.want)
				}
				got := m.EncodeText(ids, b, l).Data()
				s := tensor.NoGrad()
				lat, tok := m.Text.forward(s, ids, b, l)
				want := tensor.Normalize(lat, 1e-12).Data()
				tensor.Drop(tok)
				worst := 0.0
				for i := range want {
					worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
				}
				s.End()
				t.Logf("max |diff| %.1e", worst)
				if worst > 1e-6 || math.IsNaN(worst) {
					t.Errorf("EncodeText differs from the whole context by %.3g", worst)
				}
			})
		}
	}
	// No trailing pad: the whole context.
	full := make([]int, l)
	for i := range full {
		full[i] = 1 + i
	}
	if n := tinyModel(t).Text.prefix(full, 1, l); n != l {
		t.Errorf("prefix of an unpadded text: %d, want %d", n, l)
	}
}

// TestForwardPrefix checks a training step (Forward, Loss, Backward),
// which computes the texts only up to the batch's last non-pad id + 1,
// against the same step over the whole context (built here from the
// towers), for both CLS masks: losses and every parameter's gradient.
// Measured: the legacy mask's step bit for bit the whole context's; the
// correct mask's (the CLS attends to itself, at another key index, so the
// softmax sums in another order) losses relative 5.6e-7, gradients
// ‖g − ref‖/‖ref‖ 1.4e-6 (text.cls_emb), logit_scale's gradient (a small
// sum of cancelling terms) |diff| 2.8e-7; held to 5e-6, 5e-6 and 1e-6.
func TestForwardPrefix(t *testing.T) {
	const b, l = 3, 12
	text := []int{
		5, 9, 3, 7, 0, 0, 0, 0, 0, 0, 0, 0,
		7, 0, 4, 8, 2, 6, 0, 0, 0, 0, 0, 0, // a pad inside; the longest
		6, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
	for _, correct := range []bool{false, true} {
		t.Run(fmt.Sprintf("correct=%v", correct), func(t *testing.T) {
			m := tinyModel(t)
			m.Text.correctMask = correct
			img := tensor.New(b, 3, 32, 32)
			tensor.NewRNG(7).Normal(img, 0, 1)
			step := func(whole bool) ([]float64, map[string][]float32, int) {
				for _, p := range m.Params() {
					p.Tensor.ZeroGrad()
				}
				var o *Output
				if whole {
					o = &Output{}
					o.ImageLatent, o.ImageEmbs = m.Visual.Forward(img)
					o.TextLatent, o.TextTokens = m.Text.Forward(text, b, l)
					o.ImageFeatures = tensor.Normalize(o.ImageLatent, 1e-12)
					o.TextFeatures = tensor.Normalize(o.TextLatent, 1e-12)
					o.Logits = m.TextDecoder.Forward(tensor.Slice(o.TextTokens, 1, 0, l-1), o.ImageEmbs)
					o.LogitScale = tensor.Exp(m.LogitScale)
				} else {
					o = m.Forward(img, text, b, l)
				}
				n := o.Logits.Dim(1) + 1
				ls := m.Loss(o, text, b, l, DefaultLossWeights)
				losses := []float64{float64(ls.Total.Item()), float64(ls.Contrastive.Item()), float64(ls.Caption.Item())}
				tensor.Backward(ls.Total)
				grads := map[string][]float32{}
				for _, p := range m.Params() {
					grads[p.Name] = append([]float32(nil), p.Tensor.Grad()...)
				}
				tensor.Release(ls.Total)
				return losses, grads, n
			}
			gotL, gotG, n := step(false)
			wantL, wantG, nw := step(true)
			// the longest text's last id is at 5: 7 positions (6 would do
			// for the correct mask; prefix gives both 7)
			if n != 7 || nw != l {
				t.Fatalf("positions computed: %d and %d, want 7 and %d", n, nw, l)
			}
			worstL, worstG, worstS := 0.0, 0.0, 0.0
			for i := range wantL {
				worstL = math.Max(worstL, math.Abs(gotL[i]-wantL[i])/math.Abs(wantL[i]))
			}
			for name, w := range wantG {
				g := gotG[name]
				if len(g) != len(w) {
					t.Fatalf("%s: gradient of %d values, want %d", name, len(g), len(w))
				}
				var d, r float64
				for i := range w {
					d += float64(g[i]-w[i]) * float64(g[i]-w[i])
					r += float64(w[i]) * float64(w[i])
				}
				if name == "logit_scale" {
					// a small sum of cancelling terms: absolute
					worstS = math.Sqrt(d)
				} else if r > 0 {
					worstG = math.Max(worstG, math.Sqrt(d/r))
				} else if d > 0 {
					t.Errorf("%s: gradient %g where the whole context's is 0", name, math.Sqrt(d))
				}
			}
			t.Logf("losses %v: worst relative %.1e; gradients worst relative norm %.1e; logit_scale's |diff| %.1e", gotL, worstL, worstG, worstS)
			if !(worstL <= 5e-6) || !(worstG <= 5e-6) || !(worstS <= 1e-6) {
				t.Errorf("the prefix step differs from the whole context's: losses %.3g, gradients %.3g, logit_scale's %.3g", worstL, worstG, worstS)
			}
		})
	}
}
