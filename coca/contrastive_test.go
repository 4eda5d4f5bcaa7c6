package coca

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// unitRows returns n random L2-normalised rows of d values.
func unitRows(rng *rand.Rand, n, d int) []float32 {
	out := make([]float32, n*d)
	for i := 0; i < n; i++ {
		var ss float64
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			out[i*d+j] = float32(v)
			ss += v * v
		}
		for j := 0; j < d; j++ {
			out[i*d+j] /= float32(math.Sqrt(ss))
		}
	}
	return out
}

// contrastiveRef is the loss in float64, straight from its definition.
func contrastiveRef(img, txt []float32, n, d int, s, w float64) float64 {
	dot := func(a, b []float32) float64 {
		var t float64
		for k := range a {
			t += float64(a[k]) * float64(b[k])
		}
		return t
	}
	ce := func(row func(j int) float64, target int) float64 {
		m := math.Inf(-1)
		for j := 0; j < n; j++ {
			m = math.Max(m, row(j))
		}
		var z float64
		for j := 0; j < n; j++ {
			z += math.Exp(row(j) - m)
		}
		return m + math.Log(z) - row(target)
	}
	var li, lt float64
	for i := 0; i < n; i++ {
		li += ce(func(j int) float64 { return s * dot(img[i*d:(i+1)*d], txt[j*d:(j+1)*d]) }, i)
		lt += ce(func(j int) float64 { return s * dot(txt[i*d:(i+1)*d], img[j*d:(j+1)*d]) }, i)
	}
	return w * (li + lt) / float64(n) / 2
}

func leaf(data []float32, shape ...int) *tensor.Tensor {
	t := tensor.FromSlice(append([]float32(nil), data...), shape...)
	t.SetRequiresGrad(true)
	return t
}

// TestContrastiveLoss: the whole batch's loss against a float64 reference
// (measured within 2e-8 relative; bound 1e-6), and the local slices of 4
// ranks: their mean is the whole loss (measured 2e-8) and the sum of their
// gradients, divided by the ranks, the whole loss's gradient (measured
// within 1.5e-7 of the largest; bound 1e-6), as open_clip's local_loss
// promises.
func TestContrastiveLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d, ranks = 16, 24, 4
	const s, w = 14.3, 0.7
	img, txt := unitRows(rng, n, d), unitRows(rng, n, d)
	want := contrastiveRef(img, txt, n, d, s, w)

	gi, gt, gs := leaf(img, n, d), leaf(txt, n, d), leaf([]float32{s})
	whole := rowsLoss(gi, gt, tensor.Reshape(gs, 1), 0, n, w)
	got := float64(whole.Item())
	if rel := math.Abs(got-want) / want; rel > 1e-6 {
		t.Fatalf("whole batch: %v, float64 reference %v (%.2g relative)", got, want, rel)
	}
	tensor.Backward(whole)
	wantGI, wantGT, wantGS := append([]float32(nil), gi.Grad()...), append([]float32(nil), gt.Grad()...), gs.Grad()[0]

	var mean float64
	sumGI, sumGT := make([]float64, n*d), make([]float64, n*d)
	var sumGS float64
	for r := 0; r < ranks; r++ {
		li, lt, ls := leaf(img, n, d), leaf(txt, n, d), leaf([]float32{s})
		part := rowsLoss(li, lt, tensor.Reshape(ls, 1), r*n/ranks, (r+1)*n/ranks, w)
		mean += float64(part.Item()) / ranks
		tensor.Backward(part)
		for i := range sumGI {
			sumGI[i] += float64(li.Grad()[i]) / ranks
			sumGT[i] += float64(lt.Grad()[i]) / ranks
		}
		sumGS += float64(ls.Grad()[0]) / ranks
	}
	if rel := math.Abs(mean-got) / got; rel > 1e-6 {
		t.Errorf("mean of the ranks' local losses %v, whole %v (%.2g relative)", mean, got, rel)
	}
	var worst, scale float64
	for i := range sumGI {
		worst = math.Max(worst, math.Max(math.Abs(sumGI[i]-float64(wantGI[i])), math.Abs(sumGT[i]-float64(wantGT[i]))))
		scale = math.Max(scale, math.Max(math.Abs(float64(wantGI[i])), math.Abs(float64(wantGT[i]))))
	}
	worst = math.Max(worst, math.Abs(sumGS-float64(wantGS)))
	if worst > 1e-6*scale {
		t.Errorf("local gradients differ from the whole loss's by %.3g (scale %.3g)", worst, scale)
	}
	t.Logf("whole %.9g vs float64 %.9g; local mean %.9g; gradients within %.2g of %.2g", got, want, mean, worst, scale)
}

// rowsLoss is ContrastiveLoss of rows lo..hi against every column.
func rowsLoss(img, txt, scale *tensor.Tensor, lo, hi int, w float32) *tensor.Tensor {
	return ContrastiveLoss(tensor.Rows(img, lo, hi), tensor.Rows(txt, lo, hi), img, txt, lo, scale, w)
}
