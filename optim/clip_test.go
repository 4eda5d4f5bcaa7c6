package optim

import (
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
)

func paramWithGrad(name string, g []float32, shape ...int) *tensor.Tensor {
	p := tensor.NewParam(name, shape...)
	setGrad(p, g)
	return p
}

func TestClipGradNorm(t *testing.T) {
	a := paramWithGrad("a", []float32{3, 4}, 2)          // ‖a‖ = 5
	b := paramWithGrad("b", []float32{12}, 1)            // ‖b‖ = 12
	none := tensor.NewParam("none", 3)                   // no gradient: ignored
	c := paramWithGrad("c", []float32{0, 0, 0, 0}, 2, 2) // contributes 0
	ps := []*tensor.Tensor{a, none, b, c}

	// no clipping when the norm is within bounds
	if n := ClipGradNorm(ps, 20); n != 13 {
		t.Fatalf("ClipGradNorm = %v, want 13", n)
	}
	if g := a.Grad(); g[0] != 3 || g[1] != 4 {
		t.Fatalf("gradient changed without clipping: %v", g)
	}

	// clipping to 6.5: factor 6.5/(13+1e-6)
	n := ClipGradNorm(ps, 6.5)
	if n != 13 {
		t.Fatalf("ClipGradNorm = %v, want 13", n)
	}
	coef := float32(6.5 / (13 + 1e-6))
	want := map[*tensor.Tensor][]float32{a: {3 * coef, 4 * coef}, b: {12 * coef}, c: {0, 0, 0, 0}}
	for p, w := range want {
		for i, v := range p.Grad() {
			if v != w[i] {
				t.Errorf("%s grad[%d] = %v, want %v", p.Name(), i, v, w[i])
			}
		}
	}
	if none.Grad() != nil {
		t.Error("a parameter without gradient got one")
	}
	if got := GradNorm(ps); math.Abs(got-6.5) > 1e-6 {
		t.Errorf("norm after clipping = %v, want 6.5", got)
	}

	// maxNorm 0, negative, NaN or +Inf: measure only
	for _, m := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if n := ClipGradNorm(ps, m); math.Abs(n-6.5) > 1e-6 {
			t.Errorf("maxNorm %v: norm %v, want 6.5", m, n)
		}
		if got := GradNorm(ps); math.Abs(got-6.5) > 1e-6 {
			t.Errorf("maxNorm %v changed the gradients: norm %v", m, got)
		}
	}

	// no parameters with gradients
	if n := ClipGradNorm([]*tensor.Tensor{none}, 1); n != 0 {
		t.Errorf("ClipGradNorm of no gradients = %v, want 0", n)
	}

	// a non-finite norm is returned and the gradients are left alone
	d := paramWithGrad("d", []float32{1, float32(math.Inf(1)), 2}, 3)
	if n := ClipGradNorm([]*tensor.Tensor{d}, 1); !math.IsInf(n, 1) {
		t.Errorf("ClipGradNorm with an infinite gradient = %v, want +Inf", n)
	}
	if g := d.Grad(); g[0] != 1 || g[2] != 2 {
		t.Errorf("gradients scaled by a non-finite norm: %v", g)
	}
}

func TestClipGradNormLong(t *testing.T) {
	// many values with tails: Σ over 1001 values of (i mod 7 − 3)
	n := 1001
	g := make([]float32, n)
	var sum float64
	for i := range g {
		g[i] = float32(i%7 - 3)
		sum += float64(g[i]) * float64(g[i])
	}
	p := paramWithGrad("p", g, n)
	if got := ClipGradNorm([]*tensor.Tensor{p}, 1e9); got != math.Sqrt(sum) {
		t.Errorf("ClipGradNorm = %v, want %v", got, math.Sqrt(sum))
	}
}

func TestScaleGrads(t *testing.T) {
	// gradient accumulation: two micro-batches summed, scaled by 1/2,
	// equal their mean
	p := paramWithGrad("p", []float32{1, 2, 3}, 3)
	g := p.Grad()
	for i, v := range []float32{3, 2, 1} {
		g[i] += v
	}
	ScaleGrads([]*tensor.Tensor{p, tensor.NewParam("none", 2)}, 0.5)
	for i, v := range p.Grad() {
		if v != 2 {
			t.Errorf("grad[%d] = %v, want 2", i, v)
		}
	}
}

func TestClampLogitScale(t *testing.T) {
	p := tensor.NewParam("logit_scale")
	hi := float32(math.Log(100))
	for _, c := range []struct{ in, want float32 }{
		{2.6592600, 2.6592600},
		{-0.5, 0},
		{0, 0},
		{4.7, hi},
		{hi, hi},
		{float32(math.Inf(1)), hi},
	} {
		p.Data()[0] = c.in
		ClampLogitScale(p)
		if got := p.Data()[0]; got != c.want {
			t.Errorf("ClampLogitScale(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	q := tensor.NewParam("logit_scale", 1) // shape [1] in some checkpoints
	q.Data()[0] = 9
	ClampLogitScale(q)
	if q.Data()[0] != hi {
		t.Errorf("shape [1]: %v, want %v", q.Data()[0], hi)
	}
}
