package tensor

import (
	"fmt"
	"math"
	"testing"
)

// gradCase is one op under a gradient check: build maps the inputs to an
// output; the check compares d(Σ out·R)/d input from Backward with central
// finite differences accumulated in float64.
type gradCase struct {
	name   string
	inputs [][]int // shapes
	build  func(in []*Tensor) *Tensor
	tol    float64 // max |analytic − numeric| / max(1, |numeric|)
	eps    float64
	// init optionally sets the inputs' values (default N(0,1)).
	init func(g *RNG, in []*Tensor)
}

func runGradCase(t *testing.T, c gradCase) {
	t.Helper()
	g := NewRNG(42)
	in := make([]*Tensor, len(c.inputs))
	for i, s := range c.inputs {
		in[i] = New(s...)
		g.Normal(in[i], 0, 1)
		in[i].SetRequiresGrad(true)
	}
	if c.init != nil {
		c.init(g, in)
	}
	out := c.build(in)
	r := New(out.shape...)
	g.Normal(r, 0, 1)
	loss := Sum(Mul(out, r), false)
	Backward(loss)
	ana := make([][]float32, len(in))
	for i, x := range in {
		ana[i] = append([]float32(nil), x.Grad()...)
	}
	Release(loss)

	eval := func() float64 {
		sc := NoGrad()
		defer sc.End()
		scoped := make([]*Tensor, len(in))
		for i, x := range in {
			scoped[i] = sc.Use(x)
		}
		o := c.build(scoped)
		var s float64
		for i, v := range o.Data() {
			s += float64(v) * float64(r.data[i])
		}
		return s
	}
	eps := c.eps
	if eps == 0 {
		eps = 1e-2
	}
	worst := 0.0
	for i, x := range in {
		if ana[i] == nil {
			t.Fatalf("%s: input %d %v got no gradient", c.name, i, x.shape)
		}
		for j := range x.data {
			orig := x.data[j]
			x.data[j] = orig + float32(eps)
			lp := eval()
			x.data[j] = orig - float32(eps)
			lm := eval()
			x.data[j] = orig
			num := (lp - lm) / (2 * eps)
			err := math.Abs(num-float64(ana[i][j])) / math.Max(1, math.Abs(num))
			if err > worst {
				worst = err
			}
			if err > c.tol || math.IsNaN(err) {
				t.Fatalf("%s: input %d %v element %d: analytic %.6g, numeric %.6g (err %.3g > tol %.3g)",
					c.name, i, x.shape, j, ana[i][j], num, err, c.tol)
			}
		}
	}
	t.Logf("%-28s worst error %.2e (tol %.0e)", c.name, worst, c.tol)
}

func TestGradients(t *testing.T) {
	mask := New(2, 3, 5)
	for i := range mask.data {
		if i%4 == 1 {
			mask.data[i] = float32(math.Inf(-1))
		} else {
			mask.data[i] = float32(i%3) * 0.1
		}
	}
	ids := []int{3, 0, 3, 6, 1}
	targets := []int{2, 0, 4, 0, 1, 6, 0}
	positive := func(g *RNG, in []*Tensor) { // keep divisors away from 0
		for i := range in[1].data {
			in[1].data[i] = 0.5 + g.Float32()
		}
	}
	cases := []gradCase{
		{name: "Add broadcast", inputs: [][]int{{3, 1, 5}, {4, 5}}, build: func(in []*Tensor) *Tensor { return Add(in[0], in[1]) }, tol: 1e-3},
		{name: "Add same", inputs: [][]int{{2, 9}, {2, 9}}, build: func(in []*Tensor) *Tensor { return Add(in[0], in[1]) }, tol: 1e-3},
		{name: "Sub broadcast", inputs: [][]int{{7}, {3, 1}}, build: func(in []*Tensor) *Tensor { return Sub(in[0], in[1]) }, tol: 1e-3},
		{name: "Mul broadcast", inputs: [][]int{{2, 3, 1}, {1, 3, 5}}, build: func(in []*Tensor) *Tensor { return Mul(in[0], in[1]) }, tol: 1e-3},
		{name: "Mul same input twice", inputs: [][]int{{11}}, build: func(in []*Tensor) *Tensor { return Mul(in[0], in[0]) }, tol: 1e-3},
		{name: "Div broadcast", inputs: [][]int{{3, 4}, {4}}, build: func(in []*Tensor) *Tensor { return Div(in[0], in[1]) }, init: positive, tol: 2e-3, eps: 1e-3},
		{name: "Scale", inputs: [][]int{{5, 3}}, build: func(in []*Tensor) *Tensor { return Scale(in[0], -1.5) }, tol: 1e-3},
		{name: "Exp", inputs: [][]int{{13}}, build: func(in []*Tensor) *Tensor { return Exp(in[0]) }, tol: 2e-3, eps: 1e-3},
		{name: "GELU", inputs: [][]int{{17}}, build: func(in []*Tensor) *Tensor { return GELU(in[0]) }, tol: 1e-3},
		{name: "QuickGELU", inputs: [][]int{{17}}, build: func(in []*Tensor) *Tensor { return QuickGELU(in[0]) }, tol: 1e-3},
		{name: "GELUTanh", inputs: [][]int{{17}}, build: func(in []*Tensor) *Tensor { return GELUTanh(in[0]) }, tol: 1e-3},
		{name: "Sigmoid", inputs: [][]int{{17}}, build: func(in []*Tensor) *Tensor { return Sigmoid(in[0]) }, tol: 1e-3},
		{name: "Tanh", inputs: [][]int{{17}}, build: func(in []*Tensor) *Tensor { return Tanh(in[0]) }, tol: 1e-3},
		{name: "Neg", inputs: [][]int{{1, 5}}, build: func(in []*Tensor) *Tensor { return Neg(in[0]) }, tol: 1e-3},
		{name: "Sum axes", inputs: [][]int{{3, 1, 5, 2}}, build: func(in []*Tensor) *Tensor { return Sum(in[0], false, 0, 2) }, tol: 1e-3},
		{name: "Sum all", inputs: [][]int{{3, 5}}, build: func(in []*Tensor) *Tensor { return Sum(in[0], false) }, tol: 1e-3},
		{name: "Mean keepdims", inputs: [][]int{{3, 5, 2}}, build: func(in []*Tensor) *Tensor { return Mean(in[0], true, -1) }, tol: 1e-3},
		{name: "Reshape", inputs: [][]int{{3, 10}}, build: func(in []*Tensor) *Tensor { return Mul(Reshape(in[0], 5, -1), Reshape(in[0], 5, 6)) }, tol: 1e-3},
		{name: "Rows view", inputs: [][]int{{5, 3}}, build: func(in []*Tensor) *Tensor { return Mul(Rows(in[0], 1, 4), Reshape(Rows(in[0], 2, 5), 3, 3)) }, tol: 1e-3},
		{name: "Expand", inputs: [][]int{{3, 1}}, build: func(in []*Tensor) *Tensor { return Expand(in[0], 2, 3, 4) }, tol: 1e-3},
		{name: "Permute", inputs: [][]int{{2, 3, 1, 5}}, build: func(in []*Tensor) *Tensor { return Permute(in[0], 3, 0, 2, 1) }, tol: 1e-3},
		{name: "Transpose", inputs: [][]int{{4, 7}}, build: func(in []*Tensor) *Tensor { return Transpose(in[0], 0, 1) }, tol: 1e-3},
		{name: "Slice", inputs: [][]int{{3, 9, 2}}, build: func(in []*Tensor) *Tensor { return Slice(in[0], 1, 2, 7) }, tol: 1e-3},
		{name: "Split", inputs: [][]int{{3, 9}}, build: func(in []*Tensor) *Tensor {
			p := Split(in[0], 1, 2, 3, 4)
			return Concat(1, p[2], p[0])
		}, tol: 1e-3},
		{name: "Concat", inputs: [][]int{{2, 1, 3}, {2, 4, 3}}, build: func(in []*Tensor) *Tensor { return Concat(1, in[0], in[1], in[0]) }, tol: 1e-3},
		{name: "MatMul NN", inputs: [][]int{{5, 3}, {3, 7}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, false) }, tol: 1e-3},
		{name: "MatMul NT", inputs: [][]int{{5, 3}, {7, 3}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, true) }, tol: 1e-3},
		{name: "MatMul TN", inputs: [][]int{{3, 5}, {3, 7}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, false) }, tol: 1e-3},
		{name: "MatMul TT", inputs: [][]int{{3, 5}, {7, 3}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, true) }, tol: 1e-3},
		{name: "MatMul batched", inputs: [][]int{{2, 4, 3}, {2, 3, 9}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, false) }, tol: 1e-3},
		{name: "MatMul broadcast 2-D", inputs: [][]int{{3, 4, 5}, {5, 2}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, false) }, tol: 1e-3},
		{name: "MatMul broadcast 2-D NT", inputs: [][]int{{2, 3, 4, 5}, {6, 5}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, true) }, tol: 1e-3},
		{name: "MatMul broadcast mixed", inputs: [][]int{{2, 1, 4, 3}, {3, 5, 3}}, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, true) }, tol: 1e-3},
		{name: "Linear", inputs: [][]int{{2, 3, 5}, {9, 5}, {9}}, build: func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) }, tol: 1e-3},
		{name: "Linear no bias", inputs: [][]int{{1, 5}, {3, 5}}, build: func(in []*Tensor) *Tensor { return Linear(in[0], in[1], nil) }, tol: 1e-3},
		{name: "Embedding", inputs: [][]int{{7, 3}}, build: func(in []*Tensor) *Tensor { return Embedding(in[0], ids) }, tol: 1e-3},
		{name: "Softmax", inputs: [][]int{{3, 1, 7}}, build: func(in []*Tensor) *Tensor { return Softmax(in[0]) }, tol: 1e-3},
		{name: "LogSoftmax", inputs: [][]int{{4, 9}}, build: func(in []*Tensor) *Tensor { return LogSoftmax(in[0]) }, tol: 1e-3},
		{name: "LayerNorm", inputs: [][]int{{2, 3, 11}, {11}, {11}}, build: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) }, tol: 3e-3, eps: 1e-3},
		{name: "Normalize", inputs: [][]int{{4, 9}}, build: func(in []*Tensor) *Tensor { return Normalize(in[0], 1e-12) }, tol: 2e-3, eps: 1e-3},
		{name: "Attention", inputs: [][]int{{2, 2, 3, 5}, {2, 2, 4, 5}, {2, 2, 4, 5}}, build: func(in []*Tensor) *Tensor { return Attention(in[0], in[1], in[2], nil, false, 0) }, tol: 2e-3, eps: 1e-3},
		{name: "Attention causal", inputs: [][]int{{1, 3, 5, 4}, {1, 3, 5, 4}, {1, 3, 5, 4}}, build: func(in []*Tensor) *Tensor { return Attention(in[0], in[1], in[2], nil, true, 0) }, tol: 2e-3, eps: 1e-3},
		{name: "Attention mask", inputs: [][]int{{2, 1, 3, 7}, {2, 1, 5, 7}, {2, 1, 5, 7}}, build: func(in []*Tensor) *Tensor { return Attention(in[0], in[1], in[2], mask, false, 0.3) }, tol: 2e-3, eps: 1e-3},
		{name: "CrossEntropy", inputs: [][]int{{7, 9}}, build: func(in []*Tensor) *Tensor { return CrossEntropy(in[0], targets, 0) }, tol: 1e-3},
		{name: "Patchify", inputs: [][]int{{2, 3, 4, 6}}, build: func(in []*Tensor) *Tensor { return Patchify(in[0], 2) }, tol: 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGradCase(t, c) })
	}
}

// TestGradAccumulates checks that two Backward calls add up and that a
// parameter used twice gets the sum of both paths.
func TestGradAccumulates(t *testing.T) {
	w := NewParam("w", 3)
	copy(w.Data(), []float32{1, 2, 3})
	for i := 0; i < 2; i++ {
		y := Sum(Add(Mul(w, w), Scale(w, 2)), false) // d/dw = 2w + 2
		Backward(y)
		Release(y)
	}
	want := []float32{8, 12, 16}
	for i, g := range w.Grad() {
		if g != want[i] {
			t.Fatalf("grad %v, want %v", w.Grad(), want)
		}
	}
}

func TestReleasedTensorPanics(t *testing.T) {
	w := NewParam("w", 4)
	h := Exp(w)
	y := Sum(h, false)
	Backward(y)
	Release(y)
	if w.Grad() == nil || w.Data() == nil {
		t.Fatalf("parameter lost its data or gradient on Release")
	}
	defer func() {
		r := recover()
		if r == nil || !contains(fmt.Sprint(r), "released") {
			t.Fatalf("use after release: got %v", r)
		}
	}()
	_ = h.Data()
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
