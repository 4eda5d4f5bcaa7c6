package tensor

import (
	"fmt"
	"math"
	"testing"
)

// TestGradientsRandomShapes repeats the finite-difference check of
// TestGradients on shapes drawn from a seeded RNG: every dimension is drawn
// from 1..maxDim, so size-1 axes (broadcast and otherwise) and sizes that
// are not multiples of 8 come up in every op, as do 1-row matrices,
// single-key attention and one-token causal decoding (Lq = 1 < Lk).
func TestGradientsRandomShapes(t *testing.T) {
	const trials = 12
	r := NewRNG(7)
	dim := func(max int) int { return 1 + r.IntN(max) }
	// bcast returns a copy of s with each axis set to 1 with probability 1/3.
	bcast := func(s []int) []int {
		o := cloneInts(s)
		for i := range o {
			if r.IntN(3) == 0 {
				o[i] = 1
			}
		}
		return o
	}
	shape := func(rank, max int) []int {
		s := make([]int, rank)
		for i := range s {
			s[i] = dim(max)
		}
		return s
	}
	positive := func(g *RNG, in []*Tensor) {
		for i := range in[1].data {
			in[1].data[i] = 0.5 + g.Float32()
		}
	}
	var cases []gradCase
	add := func(c gradCase) {
		c.name = fmt.Sprintf("%s %v", c.name, c.inputs)
		cases = append(cases, c)
	}
	for trial := 0; trial < trials; trial++ {
		// Broadcasting arithmetic: b has a's trailing axes, some set to 1;
		// a may also lose axes to 1.
		s := shape(1+r.IntN(3), 6)
		sa, sb := bcast(s), bcast(s)
		sb = sb[r.IntN(len(sb)):]
		binOps := []struct {
			name string
			f    func(a, b *Tensor) *Tensor
		}{{"Add", Add}, {"Sub", Sub}, {"Mul", Mul}, {"Div", Div}}
		for _, op := range binOps {
			c := gradCase{name: op.name, inputs: [][]int{sa, sb}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return op.f(in[0], in[1]) }}
			if op.name == "Div" {
				c.init, c.tol, c.eps = positive, 2e-3, 1e-3
			}
			add(c)
		}

		// Unary maps.
		u := shape(1+r.IntN(3), 7)
		unary := []struct {
			name string
			f    func(*Tensor) *Tensor
		}{{"Exp", Exp}, {"GELU", GELU}, {"QuickGELU", QuickGELU}, {"GELUTanh", GELUTanh}, {"Sigmoid", Sigmoid}, {"Tanh", Tanh}, {"Neg", Neg}}
		for _, op := range unary {
			add(gradCase{name: op.name, inputs: [][]int{u}, tol: 2e-3, eps: 1e-3, build: func(in []*Tensor) *Tensor { return op.f(in[0]) }})
		}
		add(gradCase{name: "Scale", inputs: [][]int{u}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Scale(in[0], 0.7) }})

		// Reductions over a random non-empty set of axes.
		red := shape(1+r.IntN(4), 5)
		var axes []int
		for a := range red {
			if r.IntN(2) == 0 {
				axes = append(axes, a)
			}
		}
		if len(axes) == 0 {
			axes = []int{r.IntN(len(red))}
		}
		keep := r.IntN(2) == 0
		add(gradCase{name: fmt.Sprintf("Sum axes %v keep %v", axes, keep), inputs: [][]int{red}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Sum(in[0], keep, axes...) }})
		add(gradCase{name: fmt.Sprintf("Mean axes %v keep %v", axes, keep), inputs: [][]int{red}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Mean(in[0], keep, axes...) }})

		// Views and copies.
		pv := shape(2+r.IntN(3), 5)
		perm := r.Rand().Perm(len(pv))
		add(gradCase{name: fmt.Sprintf("Permute %v", perm), inputs: [][]int{pv}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Permute(in[0], perm...) }})
		i, j := r.IntN(len(pv)), r.IntN(len(pv))
		add(gradCase{name: fmt.Sprintf("Transpose %d %d", i, j), inputs: [][]int{pv}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Transpose(in[0], i, j) }})
		add(gradCase{name: "Reshape", inputs: [][]int{pv}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Exp(Reshape(in[0], -1)) }, eps: 1e-3})
		ax := r.IntN(len(pv))
		lo := r.IntN(pv[ax])
		hi := lo + 1 + r.IntN(pv[ax]-lo)
		add(gradCase{name: fmt.Sprintf("Slice axis %d [%d,%d)", ax, lo, hi), inputs: [][]int{pv}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Slice(in[0], ax, lo, hi) }})
		other := cloneInts(pv)
		other[ax] = dim(4)
		add(gradCase{name: fmt.Sprintf("Concat+Split axis %d", ax), inputs: [][]int{pv, other}, tol: 1e-3, build: func(in []*Tensor) *Tensor {
			c := Concat(ax, in[1], in[0])
			p := Split(c, ax, other[ax], pv[ax])
			return Concat(ax, p[0], Scale(p[1], 2), in[1])
		}})

		// Matrix products: random transposes, batch axes with broadcasting.
		m, k, n := dim(9), dim(9), dim(9)
		ta, tb := r.IntN(2) == 0, r.IntN(2) == 0
		batch := shape(trial%3, 3)
		mat := func(b []int, rows, cols int, tr bool) []int {
			if tr {
				rows, cols = cols, rows
			}
			return append(cloneInts(b), rows, cols)
		}
		ba, bb := bcast(batch), bcast(batch)
		if len(bb) > 0 {
			bb = bb[r.IntN(len(bb)+1):]
		}
		add(gradCase{name: fmt.Sprintf("MatMul ta=%v tb=%v", ta, tb), inputs: [][]int{mat(ba, m, k, ta), mat(bb, k, n, tb)}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) }})
		lx := append(shape(r.IntN(3), 4), k)
		add(gradCase{name: "Linear", inputs: [][]int{lx, {n, k}, {n}}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) }})

		// Row-wise ops on the last axis.
		rw := shape(1+r.IntN(3), 9)
		add(gradCase{name: "Softmax", inputs: [][]int{rw}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Softmax(in[0]) }})
		add(gradCase{name: "LogSoftmax", inputs: [][]int{rw}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return LogSoftmax(in[0]) }})
		c := rw[len(rw)-1]
		if c > 1 { // a 1-wide layernorm is constant (its x-gradient is 0 analytically, noise numerically)
			add(gradCase{name: "LayerNorm", inputs: [][]int{rw, {c}, {c}}, tol: 3e-3, eps: 1e-3, build: func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) }})
		}
		add(gradCase{name: "Normalize", inputs: [][]int{rw}, tol: 2e-3, eps: 1e-3, build: func(in []*Tensor) *Tensor { return Normalize(in[0], 1e-12) }})

		// Embedding lookup with repeated ids.
		vocab, edim := dim(7), dim(6)
		ids := make([]int, dim(8))
		for i := range ids {
			ids[i] = r.IntN(vocab)
		}
		add(gradCase{name: fmt.Sprintf("Embedding ids %v", ids), inputs: [][]int{{vocab, edim}}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Embedding(in[0], ids) }})

		// Cross-entropy with ignore_index 0 (at least one target kept).
		rows, classes := dim(7), 1+dim(8)
		targets := make([]int, rows)
		for i := range targets {
			targets[i] = r.IntN(classes)
		}
		targets[r.IntN(rows)] = 1 + r.IntN(classes-1)
		add(gradCase{name: fmt.Sprintf("CrossEntropy targets %v", targets), inputs: [][]int{{rows, classes}}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return CrossEntropy(in[0], targets, 0) }})

		// Attention: Lq ≠ Lk, one-query causal decoding, per-batch additive
		// masks with -inf (each query keeps at least one key).
		b, h, lq, lk, d := dim(2), dim(3), dim(5), dim(6), dim(9)
		causal := trial%2 == 0
		if causal && lq > lk {
			lq = lk
		}
		var mask *Tensor
		if trial%4 >= 2 {
			mask = New(b, lq, lk)
			for bi := 0; bi < b; bi++ {
				for q := 0; q < lq; q++ {
					row := mask.data[(bi*lq+q)*lk : (bi*lq+q+1)*lk]
					for j := range row {
						if r.IntN(3) == 0 {
							row[j] = float32(math.Inf(-1))
						} else {
							row[j] = r.Float32() - 0.5
						}
					}
					row[0] = 0 // visible under any causal offset
				}
			}
		}
		name := fmt.Sprintf("Attention causal=%v mask=%v", causal, mask != nil)
		add(gradCase{name: name, inputs: [][]int{{b, h, lq, d}, {b, h, lk, d}, {b, h, lk, d}}, tol: 2e-3, eps: 1e-3, build: func(in []*Tensor) *Tensor {
			return Attention(in[0], in[1], in[2], mask, causal, 0)
		}})

		// Patchify with a random patch size and grid.
		p := dim(3)
		add(gradCase{name: fmt.Sprintf("Patchify p=%d", p), inputs: [][]int{{dim(2), dim(3), p * dim(3), p * dim(3)}}, tol: 1e-3, build: func(in []*Tensor) *Tensor { return Patchify(in[0], p) }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGradCase(t, c) })
	}
}
