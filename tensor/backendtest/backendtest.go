// Package backendtest is the conformance suite of tensor.Backend: Run
// checks every kernel of a backend against float64 references written here
// with plain loops, on seeded random shapes that cover the tails (sizes 0
// and 1, odd sizes, sizes past a block), broadcast and permuted strides,
// in-place calls, masked and causal attention, ignored targets and
// repeated ids. Outputs are checked within a tolerance of the form
// atol + rtol·scale (scale is |ref| or, for sums, Σ|terms|); NaN guard
// regions around every output must stay NaN, and inputs must be left
// unchanged.
//
// The CPU backend runs it in this package's tests; a device backend runs
// it from its own tests (the CUDA backend under -tags cuda), once with
// buffers from make (the backend copies them in and out) and once with
// buffers from its Allocator.
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// Run runs every kernel test on b as subtests. alloc makes the buffers
// handed to b (make when nil); it must return n values with len n.
func Run(t *testing.T, b tensor.Backend, alloc func(n int) []float32) {
	if alloc == nil {
		alloc = func(n int) []float32 { return make([]float32, n) }
	}
	tests := []struct {
		name string
		fn   func(s *suite)
	}{
		{"Gemm", testGemm},
		{"Map", testMap},
		{"MapBackward", testMapBackward},
		{"Binary", testBinary},
		{"Strided", testStrided},
		{"Axpy", testAxpy},
		{"Scale", testScale},
		{"Fill", testFill},
		{"Sum", testSum},
		{"SumSquares", testSumSquares},
		{"Softmax", testSoftmax},
		{"SoftmaxBackward", testSoftmaxBackward},
		{"LayerNorm", testLayerNorm},
		{"LayerNormBackward", testLayerNormBackward},
		{"Normalize", testNormalize},
		{"NormalizeBackward", testNormalizeBackward},
		{"Attention", testAttention},
		{"AttentionBackward", testAttentionBackward},
		{"AttentionStrided", testAttentionStrided},
		{"Gather", testGather},
		{"ScatterAdd", testScatterAdd},
		{"CrossEntropy", testCrossEntropy},
		{"CrossEntropyBackward", testCrossEntropyBackward},
		{"AdamW", testAdamW},
		{"SGD", testSGD},
		{"WidenBF16", testWidenBF16},
		{"GemmBF16", testGemmBF16},
		{"GemmInt8", testGemmInt8},
		{"AttendKV", testAttendKV},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{t: t, b: b, alloc: alloc, rng: rand.New(rand.NewPCG(uint64(i)+1, 0x5eed))}
			tc.fn(s)
			s.checkGuards()
		})
	}
}

// guard is the number of NaN values on each side of every buffer.
const guard = 8

type suite struct {
	t       *testing.T
	b       tensor.Backend
	alloc   func(int) []float32
	rng     *rand.Rand
	buffers []guarded
}

type guarded struct {
	whole []float32
	what  string
}

// buf returns n values (zero) between NaN guards.
func (s *suite) buf(what string, n int) []float32 {
	whole := s.alloc(n + 2*guard)
	if len(whole) != n+2*guard {
		s.t.Fatalf("alloc(%d) returned %d values", n+2*guard, len(whole))
	}
	nan := float32(math.NaN())
	for i := range guard {
		whole[i] = nan
		whole[len(whole)-1-i] = nan
	}
	clear(whole[guard : guard+n])
	s.buffers = append(s.buffers, guarded{whole, what})
	return whole[guard : guard+n : guard+n]
}

// checkGuards fails if a kernel wrote outside a buffer.
func (s *suite) checkGuards() {
	s.t.Helper()
	for _, g := range s.buffers {
		n := len(g.whole)
		for i := range guard {
			for _, j := range []int{i, n - 1 - i} {
				if v := g.whole[j]; !math.IsNaN(float64(v)) {
					s.t.Errorf("%s: guard value %d of %d-value buffer overwritten with %v", g.what, j, n-2*guard, v)
					return
				}
			}
		}
	}
	s.buffers = nil
}

// randn returns n normal values times sd.
func (s *suite) randn(what string, n int, sd float64) []float32 {
	x := s.buf(what, n)
	for i := range x {
		x[i] = float32(s.rng.NormFloat64() * sd)
	}
	return x
}

func (s *suite) uniform(what string, n int, lo, hi float64) []float32 {
	x := s.buf(what, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*s.rng.Float64())
	}
	return x
}

// copyOf returns a host copy (for reference computations and unchanged
// checks).
func copyOf(x []float32) []float32 { return append([]float32(nil), x...) }

// unchanged fails when x differs bit for bit from its earlier copy.
func (s *suite) unchanged(what string, x, before []float32) {
	s.t.Helper()
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(before[i]) {
			s.t.Errorf("%s: input changed at %d: %v, was %v", what, i, x[i], before[i])
			return
		}
	}
}

// close checks |got−want| ≤ atol + rtol·scale[i] (scale nil: |want|).
// Infinities must match exactly; a NaN in got fails unless want is NaN.
func (s *suite) close(what string, got []float32, want, scale []float64, atol, rtol float64) {
	s.t.Helper()
	if len(got) != len(want) {
		s.t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	worst := 0.0
	for i := range got {
		g, w := float64(got[i]), want[i]
		if math.IsNaN(w) {
			if !math.IsNaN(g) {
				bad++
				if bad <= 3 {
					s.t.Errorf("%s[%d] = %v, want NaN", what, i, g)
				}
			}
			continue
		}
		if math.IsInf(w, 0) || math.IsInf(g, 0) {
			if g != w {
				bad++
				if bad <= 3 {
					s.t.Errorf("%s[%d] = %v, want %v", what, i, g, w)
				}
			}
			continue
		}
		sc := math.Abs(w)
		if scale != nil {
			sc = scale[i]
		}
		lim := atol + rtol*sc
		d := math.Abs(g - w)
		if lim > 0 && d/lim > worst {
			worst = d / lim
		}
		if !(d <= lim) {
			bad++
			if bad <= 3 {
				s.t.Errorf("%s[%d] = %.9g, want %.9g (|diff| %.3g > %.3g)", what, i, g, w, d, lim)
			}
		}
	}
	if bad > 3 {
		s.t.Errorf("%s: %d of %d values out of tolerance", what, bad, len(got))
	}
	if testing.Verbose() && worst > 0.25 {
		s.t.Logf("%s: worst |diff|/limit %.2f", what, worst)
	}
}

func f64(x []float32) []float64 {
	r := make([]float64, len(x))
	for i, v := range x {
		r[i] = float64(v)
	}
	return r
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		if !math.IsInf(v, 0) {
			m = math.Max(m, math.Abs(v))
		}
	}
	return m
}

func name(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// ---- GEMM ----

func testGemm(s *suite) {
	type gcase struct {
		ta, tb           bool
		m, n, k, batch   int
		padA, padB, padC int
		bcastA, bcastB   bool
		alpha, beta      float32
	}
	cases := []gcase{
		{m: 1, n: 1, k: 1, batch: 1, alpha: 1},
		{m: 3, n: 5, k: 7, batch: 1, alpha: 1, beta: 1},
		{ta: true, m: 17, n: 9, k: 33, batch: 1, alpha: 0.5, beta: 0.75, padA: 3},
		{tb: true, m: 64, n: 65, k: 31, batch: 1, alpha: 1, padB: 2, padC: 5},
		{ta: true, tb: true, m: 20, n: 7, k: 100, batch: 1, alpha: -1, beta: 1},
		{m: 5, n: 6, k: 7, batch: 3, alpha: 1, beta: 0},
		{tb: true, m: 12, n: 10, k: 8, batch: 4, alpha: 1, beta: 1, bcastB: true},
		{ta: true, m: 9, n: 13, k: 11, batch: 3, alpha: 2, beta: 0.5, bcastA: true, padC: 1},
		{m: 128, n: 96, k: 200, batch: 2, alpha: 1, beta: 1},
		{m: 4, n: 3, k: 0, batch: 2, alpha: 1, beta: 0.5},
		{m: 4, n: 3, k: 0, batch: 1, alpha: 1, beta: 0},
	}
	for ci, c := range cases {
		ar, ac := c.m, c.k
		if c.ta {
			ar, ac = c.k, c.m
		}
		br, bc := c.k, c.n
		if c.tb {
			br, bc = c.n, c.k
		}
		lda, ldb, ldc := ac+c.padA, bc+c.padB, c.n+c.padC
		sA, sB, sC := ar*lda, br*ldb, c.m*ldc
		if c.bcastA {
			sA = 0
		}
		if c.bcastB {
			sB = 0
		}
		na, nb := (max(c.batch-1, 0))*sA+ar*lda, (max(c.batch-1, 0))*sB+br*ldb
		nc := (c.batch-1)*sC + c.m*ldc
		a := s.randn("a", na, 1)
		b := s.randn("b", nb, 1)
		cc := s.randn("c", nc, 1)
		if c.beta == 0 {
			for i := range cc {
				cc[i] = float32(math.NaN()) // must not be read
			}
		}
		a0, b0, c0 := copyOf(a), copyOf(b), copyOf(cc)
		s.b.Gemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a, lda, sA, b, ldb, sB, c.beta, cc, ldc, sC, c.batch)
		want := f64(c0)
		scale := make([]float64, nc)
		for i := range scale {
			scale[i] = math.Abs(want[i]) // padding stays as it was
		}
		for bi := 0; bi < c.batch; bi++ {
			for i := 0; i < c.m; i++ {
				for j := 0; j < c.n; j++ {
					var sum, abs float64
					for p := 0; p < c.k; p++ {
						var x, y float64
						if c.ta {
							x = float64(a0[bi*sA+p*lda+i])
						} else {
							x = float64(a0[bi*sA+i*lda+p])
						}
						if c.tb {
							y = float64(b0[bi*sB+j*ldb+p])
						} else {
							y = float64(b0[bi*sB+p*ldb+j])
						}
						sum += x * y
						abs += math.Abs(x * y)
					}
					o := bi*sC + i*ldc + j
					r := float64(c.alpha) * sum
					sc := math.Abs(float64(c.alpha)) * abs
					if c.beta != 0 {
						r += float64(c.beta) * float64(c0[o])
						sc += math.Abs(float64(c.beta) * float64(c0[o]))
					}
					want[o] = r
					scale[o] = sc
				}
			}
		}
		s.close(name("case %d C", ci), cc, want, scale, 1e-6, 2e-6)
		s.unchanged(name("case %d A", ci), a, a0)
		s.unchanged(name("case %d B", ci), b, b0)
	}
}

// ---- elementwise ----

var mapOps = []struct {
	op   tensor.MapOp
	name string
	f    func(x float64) float64
	df   func(x, y float64) float64 // derivative from x and y = f(x)
}{
	{tensor.OpExp, "exp", math.Exp, func(x, y float64) float64 { return y }},
	{tensor.OpGELU, "gelu", func(x float64) float64 { return x * phi(x) },
		func(x, y float64) float64 { return phi(x) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi) }},
	{tensor.OpQuickGELU, "quickgelu", func(x float64) float64 { return x * sigmoid(1.702*x) },
		func(x, y float64) float64 { s := sigmoid(1.702 * x); return s + 1.702*x*s*(1-s) }},
	{tensor.OpGELUTanh, "gelutanh", geluTanh, func(x, y float64) float64 {
		k := math.Sqrt(2 / math.Pi)
		u := k * (x + 0.044715*x*x*x)
		t := math.Tanh(u)
		return 0.5*(1+t) + 0.5*x*(1-t*t)*k*(1+3*0.044715*x*x)
	}},
	{tensor.OpSigmoid, "sigmoid", sigmoid, func(x, y float64) float64 { return y * (1 - y) }},
	{tensor.OpTanh, "tanh", math.Tanh, func(x, y float64) float64 { return 1 - y*y }},
	{tensor.OpNeg, "neg", func(x float64) float64 { return -x }, func(x, y float64) float64 { return -1 }},
}

func phi(x float64) float64     { return 0.5 * math.Erfc(-x/math.Sqrt2) }
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

var sizes = []int{0, 1, 5, 33, 1000, 5003}

func testMap(s *suite) {
	for _, op := range mapOps {
		for _, n := range sizes {
			for _, inPlace := range []bool{false, true} {
				x := s.uniform("x", n, -9, 9)
				if n > 2 {
					x[0], x[1] = 0, -0.25
				}
				x0 := copyOf(x)
				dst := x
				if !inPlace {
					dst = s.buf("dst", n)
				}
				s.b.Map(op.op, dst, x)
				want := make([]float64, n)
				for i, v := range x0 {
					want[i] = op.f(float64(v))
				}
				s.close(name("%s n=%d inPlace=%v", op.name, n, inPlace), dst, want, nil, 2e-7, 4e-6)
				if !inPlace {
					s.unchanged(op.name+" x", x, x0)
				}
			}
		}
	}
}

func testMapBackward(s *suite) {
	for _, op := range mapOps {
		for _, n := range sizes {
			x := s.uniform("x", n, -9, 9)
			y := s.buf("y", n)
			for i, v := range x {
				y[i] = float32(op.f(float64(v)))
			}
			dy := s.randn("dy", n, 1)
			dx := s.randn("dx", n, 1)
			x0, y0, dy0, dx0 := copyOf(x), copyOf(y), copyOf(dy), copyOf(dx)
			s.b.MapBackward(op.op, dx, x, y, dy)
			want := make([]float64, n)
			scale := make([]float64, n)
			for i := range want {
				t := float64(dy0[i]) * op.df(float64(x0[i]), float64(y0[i]))
				want[i] = float64(dx0[i]) + t
				scale[i] = math.Abs(float64(dx0[i])) + math.Abs(t)
			}
			s.close(name("%s n=%d", op.name, n), dx, want, scale, 2e-7, 4e-6)
			s.unchanged("x", x, x0)
			s.unchanged("y", y, y0)
			s.unchanged("dy", dy, dy0)
		}
	}
}

// contiguous returns row-major strides for shape.
func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// index returns the element offset of flat index o over shape with strides.
func index(shape []int, o int, st []int) int {
	off := 0
	for i := len(shape) - 1; i >= 0; i-- {
		c := o % shape[i]
		o /= shape[i]
		off += c * st[i]
	}
	return off
}

// operand makes a random operand that broadcasts to out: some axes of out
// become 1 and leading axes may be dropped. It returns its length and its
// strides aligned to out (0 on broadcast axes), as tensor computes them.
func (s *suite) operand(out []int) (n int, st []int) {
	drop := 0
	if len(out) > 0 {
		drop = s.rng.IntN(len(out) + 1)
		if s.rng.IntN(2) == 0 {
			drop = 0
		}
	}
	shape := append([]int(nil), out[drop:]...)
	for i := range shape {
		if s.rng.IntN(3) == 0 {
			shape[i] = 1
		}
	}
	cs := contiguous(shape)
	st = make([]int, len(out))
	for i := range shape {
		if shape[i] != 1 || out[drop+i] == 1 {
			st[drop+i] = cs[i]
		}
	}
	return numel(shape), st
}

func binOp(op tensor.BinOp, x, y float64) float64 {
	switch op {
	case tensor.OpAdd:
		return x + y
	case tensor.OpSub:
		return x - y
	case tensor.OpMul:
		return x * y
	}
	return x / y
}

func testBinary(s *suite) {
	shapes := [][]int{{}, {1}, {7}, {3, 1}, {2, 3, 4}, {5, 1, 3, 2}, {64, 300}, {2, 3, 2, 3, 2, 3}, {1, 1, 5}}
	for _, op := range []tensor.BinOp{tensor.OpAdd, tensor.OpSub, tensor.OpMul, tensor.OpDiv} {
		for si, shape := range shapes {
			for trial := range 3 {
				na, sa := s.operand(shape)
				nb, sb := s.operand(shape)
				if trial == 0 { // both full
					na, sa = numel(shape), contiguous(shape)
				}
				a := s.randn("a", na, 1)
				b := s.uniform("b", nb, 0.5, 2)
				for i := range b {
					if s.rng.IntN(2) == 0 {
						b[i] = -b[i]
					}
				}
				n := numel(shape)
				inPlace := trial == 0 && si%2 == 0
				a0, b0 := copyOf(a), copyOf(b)
				dst := a
				if !inPlace {
					dst = s.buf("dst", n)
				}
				s.b.Binary(op, shape, dst, a, sa, b, sb)
				want := make([]float64, n)
				for o := range want {
					want[o] = float64(float32(binOp(op, float64(a0[index(shape, o, sa)]), float64(b0[index(shape, o, sb)]))))
				}
				s.close(name("op %d shape %v sa %v sb %v", op, shape, sa, sb), dst, want, nil, 0, 1.2e-7)
				if !inPlace {
					s.unchanged("a", a, a0)
				}
				s.unchanged("b", b, b0)
			}
		}
	}
}

func testStrided(s *suite) {
	// permuted copies and accumulations (Permute, Patchify and their
	// backward), including ranks above eight
	perms := []struct{ shape, perm []int }{
		{[]int{}, []int{}},
		{[]int{5}, []int{0}},
		{[]int{3, 4}, []int{1, 0}},
		{[]int{2, 3, 4, 5}, []int{2, 0, 3, 1}},
		{[]int{2, 3, 2, 4, 2, 3}, []int{5, 3, 1, 0, 2, 4}},
		{[]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, []int{9, 1, 7, 3, 5, 4, 6, 2, 8, 0}},
		{[]int{64, 77}, []int{1, 0}},
	}
	for _, p := range perms {
		xs := contiguous(p.shape)
		shape := make([]int, len(p.shape))
		ss := make([]int, len(p.shape))
		for i, a := range p.perm {
			shape[i] = p.shape[a]
			ss[i] = xs[a]
		}
		n := numel(shape)
		cs := contiguous(shape)
		for _, acc := range []bool{false, true} {
			src := s.randn("src", n, 1)
			dst := s.randn("dst", n, 1)
			src0, dst0 := copyOf(src), copyOf(dst)
			// forward: dst[cs] = src[ss]
			s.b.Strided(shape, dst, cs, src, ss, acc)
			want := make([]float64, n)
			for o := range n {
				v := float64(src0[index(shape, o, ss)])
				if acc {
					v += float64(dst0[o])
				}
				want[o] = v
			}
			s.close(name("permute %v %v acc=%v", p.shape, p.perm, acc), dst, want, nil, 0, 1.2e-7)
			s.unchanged("src", src, src0)
			// backward direction: dst[ss] (+)= src[cs]
			dst = s.randn("dst", n, 1)
			dst0 = copyOf(dst)
			s.b.Strided(shape, dst, ss, src, cs, acc)
			want = f64(dst0)
			for o := range n {
				d := index(shape, o, ss)
				v := float64(src0[o])
				if acc {
					v += float64(dst0[d])
				}
				want[d] = v
			}
			s.close(name("permute back %v %v acc=%v", p.shape, p.perm, acc), dst, want, nil, 0, 1.2e-7)
		}
	}
	// broadcast copies (Expand) and reductions (its backward, Sum, bias
	// gradients): dst strides 0 on the reduced axes
	bcast := []struct {
		shape   []int
		reduced []bool
	}{
		{[]int{7}, []bool{true}},
		{[]int{4096, 3}, []bool{true, false}},
		{[]int{3, 5000}, []bool{false, true}},
		{[]int{7, 300, 5}, []bool{true, false, true}},
		{[]int{100003}, []bool{true}},
		{[]int{2, 3, 4, 5}, []bool{false, true, false, true}},
		{[]int{1, 6, 1}, []bool{true, false, true}},
		{[]int{3000, 40}, []bool{true, false}},
		{[]int{16, 16, 64}, []bool{true, true, false}},
	}
	for _, c := range bcast {
		kept := make([]int, len(c.shape))
		for i, d := range c.shape {
			kept[i] = d
			if c.reduced[i] {
				kept[i] = 1
			}
		}
		ks := contiguous(kept)
		for i := range ks {
			if c.reduced[i] {
				ks[i] = 0
			}
		}
		n, nk := numel(c.shape), numel(kept)
		cs := contiguous(c.shape)
		// reduction
		src := s.randn("src", n, 1)
		dst := s.randn("dst", nk, 1)
		src0, dst0 := copyOf(src), copyOf(dst)
		s.b.Strided(c.shape, dst, ks, src, cs, true)
		want, scale := f64(dst0), make([]float64, nk)
		for i := range scale {
			scale[i] = math.Abs(want[i])
		}
		for o := range n {
			d := index(c.shape, o, ks)
			want[d] += float64(src0[o])
			scale[d] += math.Abs(float64(src0[o]))
		}
		s.close(name("reduce %v %v", c.shape, c.reduced), dst, want, scale, 0, 1e-6)
		s.unchanged("src", src, src0)
		// broadcast copy
		small := s.randn("small", nk, 1)
		big := s.randn("big", n, 1)
		small0 := copyOf(small)
		s.b.Strided(c.shape, big, cs, small, ks, false)
		want = make([]float64, n)
		for o := range n {
			want[o] = float64(small0[index(c.shape, o, ks)])
		}
		s.close(name("expand %v %v", c.shape, c.reduced), big, want, nil, 0, 0)
		s.unchanged("small", small, small0)
	}
	// a reduction over nine axes whose source strides do not merge (a
	// device backend may have to split it)
	{
		shape := []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 3}
		perm := []int{9, 1, 7, 3, 5, 0, 6, 2, 8, 4}
		cs := contiguous([]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2})
		ss := make([]int, len(shape))
		for i, p := range perm {
			ss[i] = cs[p]
		}
		ss[9] = 1024 // the kept axis: three blocks of 1024
		sd := make([]int, len(shape))
		sd[9] = 1
		n := 3 * 1024
		src := s.randn("src", n, 1)
		dst := s.randn("dst", 3, 1)
		src0, dst0 := copyOf(src), copyOf(dst)
		s.b.Strided(shape, dst, sd, src, ss, true)
		want, scale := f64(dst0), make([]float64, 3)
		for i := range scale {
			scale[i] = math.Abs(want[i])
		}
		for o := range numel(shape) {
			d := index(shape, o, sd)
			v := float64(src0[index(shape, o, ss)])
			want[d] += v
			scale[d] += math.Abs(v)
		}
		s.close("reduce over nine permuted axes", dst, want, scale, 0, 1e-6)
	}
	// row blocks with padding (Slice, Concat, Linear's bias rows)
	for _, c := range []struct{ outer, w, ldD, ldS int }{{5, 7, 12, 9}, {300, 64, 64, 0}, {1, 3, 3, 3}} {
		src := s.randn("src", max(c.outer-1, 0)*c.ldS+c.w, 1)
		dst := s.randn("dst", (c.outer-1)*c.ldD+c.w, 1)
		src0, dst0 := copyOf(src), copyOf(dst)
		s.b.Strided([]int{c.outer, c.w}, dst, []int{c.ldD, 1}, src, []int{c.ldS, 1}, false)
		want := f64(dst0)
		for o := range c.outer {
			for i := range c.w {
				want[o*c.ldD+i] = float64(src0[o*c.ldS+i])
			}
		}
		s.close(name("blocks %+v", c), dst, want, nil, 0, 0)
	}
}

func testAxpy(s *suite) {
	for _, n := range sizes {
		for _, alpha := range []float32{1, -0.5} {
			x := s.randn("x", n, 1)
			y := s.randn("y", n, 1)
			x0, y0 := copyOf(x), copyOf(y)
			s.b.Axpy(alpha, x, y)
			want, scale := make([]float64, n), make([]float64, n)
			for i := range want {
				want[i] = float64(y0[i]) + float64(alpha)*float64(x0[i])
				scale[i] = math.Abs(float64(y0[i])) + math.Abs(float64(alpha)*float64(x0[i]))
			}
			s.close(name("n=%d alpha=%v", n, alpha), y, want, scale, 0, 1.2e-7)
			s.unchanged("x", x, x0)
		}
	}
}

func testScale(s *suite) {
	for _, n := range sizes {
		for _, inPlace := range []bool{false, true} {
			x := s.randn("x", n, 1)
			x0 := copyOf(x)
			dst := x
			if !inPlace {
				dst = s.buf("dst", n)
			}
			s.b.Scale(-0.3, dst, x)
			want := make([]float64, n)
			for i := range want {
				want[i] = float64(float32(-0.3) * x0[i])
			}
			s.close(name("n=%d inPlace=%v", n, inPlace), dst, want, nil, 0, 0)
		}
	}
}

func testFill(s *suite) {
	for _, n := range sizes {
		for _, v := range []float32{0, 2.5} {
			x := s.randn("x", n, 1)
			s.b.Fill(x, v)
			want := make([]float64, n)
			for i := range want {
				want[i] = float64(v)
			}
			s.close(name("n=%d v=%v", n, v), x, want, nil, 0, 0)
		}
	}
}

func testSum(s *suite) {
	for _, n := range append(sizes, 1<<20+3) {
		x := s.randn("x", n, 1)
		x0 := copyOf(x)
		got := s.b.Sum(x)
		var want, abs float64
		for _, v := range x0 {
			want += float64(v)
			abs += math.Abs(float64(v))
		}
		if d := math.Abs(got - want); d > 1e-6*abs {
			s.t.Errorf("n=%d: Sum = %v, want %v (|diff| %.3g > %.3g)", n, got, want, d, 1e-6*abs)
		}
		s.unchanged("x", x, x0)
	}
}

func testSumSquares(s *suite) {
	for _, n := range append(sizes, 1<<20+3) {
		x := s.randn("x", n, 3)
		x0 := copyOf(x)
		got := s.b.SumSquares(x)
		var want float64
		for _, v := range x0 {
			want += float64(v) * float64(v)
		}
		if d := math.Abs(got - want); d > 1e-12*want {
			s.t.Errorf("n=%d: SumSquares = %v, want %v (|diff| %.3g)", n, got, want, d)
		}
		s.unchanged("x", x, x0)
	}
}

// ---- rows: softmax, layer norm, normalize ----

var rowShapes = []struct{ rows, n int }{{1, 1}, {3, 5}, {7, 33}, {4, 200}, {2, 3000}, {300, 64}}

// softmaxRef returns softmax or log-softmax of one row and its lse.
func softmaxRef(x []float32, log bool) ([]float64, float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	if math.IsInf(m, -1) {
		for i := range out {
			if log {
				out[i] = math.Inf(-1)
			}
		}
		return out, m
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(sum)
	for i, v := range x {
		if log {
			out[i] = float64(v) - lse
		} else {
			out[i] = math.Exp(float64(v) - lse)
		}
	}
	return out, lse
}

// maskSome sets some entries of x to −Inf and, when rows > 1, all of row 1.
func (s *suite) maskSome(x []float32, rows, n int) {
	inf := float32(math.Inf(-1))
	for i := range x {
		if s.rng.IntN(5) == 0 {
			x[i] = inf
		}
	}
	if rows > 1 {
		for i := n; i < 2*n; i++ {
			x[i] = inf
		}
	}
}

func testSoftmax(s *suite) {
	for _, log := range []bool{false, true} {
		for _, sh := range rowShapes {
			for _, inPlace := range []bool{false, true} {
				x := s.randn("x", sh.rows*sh.n, 3)
				s.maskSome(x, sh.rows, sh.n)
				x0 := copyOf(x)
				dst := x
				if !inPlace {
					dst = s.buf("dst", len(x))
				}
				s.b.Softmax(dst, x, sh.rows, sh.n, log)
				var want []float64
				for r := range sh.rows {
					row, _ := softmaxRef(x0[r*sh.n:(r+1)*sh.n], log)
					want = append(want, row...)
				}
				atol, rtol := 1e-7, 4e-6
				if log {
					atol = 4e-6
				}
				s.close(name("log=%v %dx%d inPlace=%v", log, sh.rows, sh.n, inPlace), dst, want, nil, atol, rtol)
				if !inPlace {
					s.unchanged("x", x, x0)
				}
			}
		}
	}
}

func testSoftmaxBackward(s *suite) {
	for _, log := range []bool{false, true} {
		for _, sh := range rowShapes {
			rows, n := sh.rows, sh.n
			x := s.randn("x", rows*n, 2)
			s.maskSome(x, rows, n)
			y := s.buf("y", rows*n)
			for r := range rows {
				row, _ := softmaxRef(x[r*n:(r+1)*n], log)
				for i, v := range row {
					y[r*n+i] = float32(v)
				}
			}
			dy := s.randn("dy", rows*n, 1)
			dx := s.randn("dx", rows*n, 1)
			y0, dy0, dx0 := copyOf(y), copyOf(dy), copyOf(dx)
			s.b.SoftmaxBackward(dx, y, dy, rows, n, log)
			want, scale := make([]float64, rows*n), make([]float64, rows*n)
			for r := range rows {
				var d, dabs float64
				for i := r * n; i < (r+1)*n; i++ {
					if log {
						d += float64(dy0[i])
						dabs += math.Abs(float64(dy0[i]))
					} else {
						d += float64(y0[i]) * float64(dy0[i])
						dabs += math.Abs(float64(y0[i]) * float64(dy0[i]))
					}
				}
				for i := r * n; i < (r+1)*n; i++ {
					yi, dyi := float64(y0[i]), float64(dy0[i])
					var t, tabs float64
					if log {
						e := math.Exp(yi)
						t = dyi - e*d
						tabs = math.Abs(dyi) + e*dabs
					} else {
						t = yi * (dyi - d)
						tabs = yi * (math.Abs(dyi) + dabs)
					}
					want[i] = float64(dx0[i]) + t
					scale[i] = math.Abs(float64(dx0[i])) + tabs
				}
			}
			s.close(name("log=%v %dx%d", log, rows, n), dx, want, scale, 1e-7, 4e-6)
			s.unchanged("y", y, y0)
			s.unchanged("dy", dy, dy0)
		}
	}
}

func lnStats(x []float32, eps float32) (mean, rstd float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += float64(v)
	}
	mean /= n
	var v2 float64
	for _, v := range x {
		v2 += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, 1 / math.Sqrt(v2/n+float64(eps))
}

func testLayerNorm(s *suite) {
	const eps = 1e-5
	for _, sh := range rowShapes {
		rows, n := sh.rows, sh.n
		x := s.randn("x", rows*n, 2)
		for i := range x {
			x[i] += 3 // an offset mean: the variance needs two passes
		}
		gamma := s.randn("gamma", n, 1)
		beta := s.randn("beta", n, 1)
		y := s.buf("y", rows*n)
		mean := s.buf("mean", rows)
		rstd := s.buf("rstd", rows)
		x0, g0, b0 := copyOf(x), copyOf(gamma), copyOf(beta)
		s.b.LayerNorm(y, mean, rstd, x, gamma, beta, rows, n, eps)
		wy, wm, wr := make([]float64, rows*n), make([]float64, rows), make([]float64, rows)
		sy := make([]float64, rows*n)
		for r := range rows {
			m, rs := lnStats(x0[r*n:(r+1)*n], eps)
			wm[r], wr[r] = m, rs
			for i := range n {
				xh := (float64(x0[r*n+i]) - m) * rs
				wy[r*n+i] = xh*float64(g0[i]) + float64(b0[i])
				sy[r*n+i] = math.Abs(xh*float64(g0[i])) + math.Abs(float64(b0[i]))
			}
		}
		s.close(name("y %dx%d", rows, n), y, wy, sy, 1e-6, 1e-5)
		s.close(name("mean %dx%d", rows, n), mean, wm, nil, 1e-6, 1e-6)
		s.close(name("rstd %dx%d", rows, n), rstd, wr, nil, 0, 1e-5)
		s.unchanged("x", x, x0)
		s.unchanged("gamma", gamma, g0)
		s.unchanged("beta", beta, b0)
	}
}

func testLayerNormBackward(s *suite) {
	shapes := append(rowShapes, struct{ rows, n int }{3000, 40})
	for si, sh := range shapes {
		for variant := range 4 { // which gradients are wanted
			rows, n := sh.rows, sh.n
			x := s.randn("x", rows*n, 2)
			gamma := s.randn("gamma", n, 1)
			dy := s.randn("dy", rows*n, 1)
			mean := s.buf("mean", rows)
			rstd := s.buf("rstd", rows)
			for r := range rows {
				m, rs := lnStats(x[r*n:(r+1)*n], 1e-5)
				mean[r], rstd[r] = float32(m), float32(rs)
			}
			var dx, dg, db []float32
			if variant != 1 {
				dx = s.randn("dx", rows*n, 1)
			}
			if variant != 2 {
				dg = s.randn("dgamma", n, 1)
			}
			if variant != 2 && variant != 3 {
				db = s.randn("dbeta", n, 1)
			}
			if variant == 3 {
				dg = nil
				db = s.randn("dbeta", n, 1)
			}
			x0, g0, dy0, m0, r0 := copyOf(x), copyOf(gamma), copyOf(dy), copyOf(mean), copyOf(rstd)
			dx0, dg0, db0 := copyOf(dx), copyOf(dg), copyOf(db)
			s.b.LayerNormBackward(dx, dg, db, dy, x, gamma, mean, rstd, rows, n)
			wdx, sdx := make([]float64, rows*n), make([]float64, rows*n)
			wdg, sdg := f64(dg0), make([]float64, n)
			wdb, sdb := f64(db0), make([]float64, n)
			for i := range n {
				if dg0 != nil {
					sdg[i] = math.Abs(wdg[i])
				}
				if db0 != nil {
					sdb[i] = math.Abs(wdb[i])
				}
			}
			for r := range rows {
				m, rs := float64(m0[r]), float64(r0[r])
				var a, b, aabs, babs float64
				for i := range n {
					xh := (float64(x0[r*n+i]) - m) * rs
					g := float64(dy0[r*n+i]) * float64(g0[i])
					a += g
					b += g * xh
					aabs += math.Abs(g)
					babs += math.Abs(g * xh)
					if dg0 != nil {
						wdg[i] += float64(dy0[r*n+i]) * xh
						sdg[i] += math.Abs(float64(dy0[r*n+i]) * xh)
					}
					if db0 != nil {
						wdb[i] += float64(dy0[r*n+i])
						sdb[i] += math.Abs(float64(dy0[r*n+i]))
					}
				}
				a /= float64(n)
				b /= float64(n)
				aabs /= float64(n)
				babs /= float64(n)
				for i := range n {
					xh := (float64(x0[r*n+i]) - m) * rs
					g := float64(dy0[r*n+i]) * float64(g0[i])
					if dx0 != nil {
						wdx[r*n+i] = float64(dx0[r*n+i]) + rs*(g-a-xh*b)
						sdx[r*n+i] = math.Abs(float64(dx0[r*n+i])) + rs*(math.Abs(g)+aabs+math.Abs(xh)*babs)
					}
				}
			}
			what := name("shape %d variant %d", si, variant)
			if dx != nil {
				s.close(what+" dx", dx, wdx, sdx, 1e-6, 2e-5)
			}
			if dg != nil {
				s.close(what+" dgamma", dg, wdg, sdg, 1e-6, 2e-6)
			}
			if db != nil {
				s.close(what+" dbeta", db, wdb, sdb, 1e-6, 2e-6)
			}
			s.unchanged("x", x, x0)
			s.unchanged("dy", dy, dy0)
		}
	}
}

func testNormalize(s *suite) {
	const eps = 1e-12
	for _, sh := range rowShapes {
		rows, n := sh.rows, sh.n
		x := s.randn("x", rows*n, 2)
		if rows > 1 {
			clear(x[n : 2*n]) // norm 0 ≤ eps: y = x/eps = 0
		}
		y := s.buf("y", rows*n)
		norms := s.buf("norms", rows)
		x0 := copyOf(x)
		s.b.Normalize(y, norms, x, rows, n, eps)
		wy, wn := make([]float64, rows*n), make([]float64, rows)
		for r := range rows {
			var ss float64
			for _, v := range x0[r*n : (r+1)*n] {
				ss += float64(v) * float64(v)
			}
			wn[r] = math.Sqrt(ss)
			d := math.Max(wn[r], eps)
			for i := range n {
				wy[r*n+i] = float64(x0[r*n+i]) / d
			}
		}
		s.close(name("y %dx%d", rows, n), y, wy, nil, 1e-7, 1e-6)
		s.close(name("norms %dx%d", rows, n), norms, wn, nil, 0, 1e-6)
		s.unchanged("x", x, x0)
	}
}

func testNormalizeBackward(s *suite) {
	const eps = 1e-12
	for _, sh := range rowShapes {
		rows, n := sh.rows, sh.n
		x := s.randn("x", rows*n, 2)
		if rows > 1 {
			clear(x[n : 2*n])
		}
		y := s.buf("y", rows*n)
		norms := s.buf("norms", rows)
		for r := range rows {
			var ss float64
			for _, v := range x[r*n : (r+1)*n] {
				ss += float64(v) * float64(v)
			}
			norms[r] = float32(math.Sqrt(ss))
			d := math.Max(math.Sqrt(ss), eps)
			for i := range n {
				y[r*n+i] = float32(float64(x[r*n+i]) / d)
			}
		}
		dy := s.randn("dy", rows*n, 1)
		dx := s.randn("dx", rows*n, 1)
		y0, n0, dy0, dx0 := copyOf(y), copyOf(norms), copyOf(dy), copyOf(dx)
		s.b.NormalizeBackward(dx, dy, y, norms, rows, n, eps)
		want, scale := make([]float64, rows*n), make([]float64, rows*n)
		for r := range rows {
			nrm := float64(n0[r])
			if nrm <= eps {
				for i := r * n; i < (r+1)*n; i++ {
					want[i] = float64(dx0[i]) + float64(dy0[i])/eps
					scale[i] = math.Abs(want[i])
				}
				continue
			}
			var d, dabs float64
			for i := r * n; i < (r+1)*n; i++ {
				d += float64(y0[i]) * float64(dy0[i])
				dabs += math.Abs(float64(y0[i]) * float64(dy0[i]))
			}
			for i := r * n; i < (r+1)*n; i++ {
				want[i] = float64(dx0[i]) + (float64(dy0[i])-float64(y0[i])*d)/nrm
				scale[i] = math.Abs(float64(dx0[i])) + (math.Abs(float64(dy0[i]))+math.Abs(float64(y0[i]))*dabs)/nrm
			}
		}
		s.close(name("%dx%d", rows, n), dx, want, scale, 1e-7, 2e-6)
		s.unchanged("y", y, y0)
		s.unchanged("dy", dy, dy0)
	}
}

// ---- attention ----

type attnCase struct {
	b, h, lq, lk, d int
	causal, mask    bool
}

var attnCases = []attnCase{
	{1, 1, 1, 1, 1, false, false},
	{2, 3, 5, 7, 8, false, false},
	{1, 2, 33, 33, 64, true, false},
	{2, 2, 70, 50, 33, false, true},
	{1, 1, 4, 9, 16, true, false},
	{2, 1, 9, 4, 8, true, true}, // the first queries see no key
	{1, 2, 40, 600, 32, false, true},
	{2, 2, 77, 77, 64, true, true},
	{1, 1, 3, 5, 130, false, false},
	{1, 1, 0, 5, 8, false, false},
	{1, 1, 3, 0, 8, false, false},
}

// attnScores returns the score row of query i of head (bi, hi) (−Inf for
// hidden keys).
func attnScores(c attnCase, q, k, mask []float32, bi, hi, i int, scale float64) []float64 {
	s := make([]float64, c.lk)
	lim := c.lk
	if c.causal {
		lim = max(0, min(c.lk, i+c.lk-c.lq+1))
	}
	bh := bi*c.h + hi
	for j := range c.lk {
		if j >= lim {
			s[j] = math.Inf(-1)
			continue
		}
		var dot float64
		for t := range c.d {
			dot += float64(q[(bh*c.lq+i)*c.d+t]) * float64(k[(bh*c.lk+j)*c.d+t])
		}
		s[j] = scale * dot
		if mask != nil {
			s[j] += float64(mask[(bi*c.lq+i)*c.lk+j])
		}
	}
	return s
}

func (s *suite) attnInputs(c attnCase) (q, k, v, mask []float32) {
	q = s.randn("q", c.b*c.h*c.lq*c.d, 1)
	k = s.randn("k", c.b*c.h*c.lk*c.d, 1)
	v = s.randn("v", c.b*c.h*c.lk*c.d, 1)
	if c.mask {
		mask = s.buf("mask", c.b*c.lq*c.lk)
		inf := float32(math.Inf(-1))
		for i := range mask {
			switch s.rng.IntN(6) {
			case 0:
				mask[i] = inf
			case 1:
				mask[i] = float32(s.rng.NormFloat64())
			}
		}
		if c.lq > 2 { // query 2 of batch 0 sees nothing
			for j := range c.lk {
				mask[2*c.lk+j] = inf
			}
		}
	}
	return
}

// attnRef returns out and lse in float64.
func attnRef(c attnCase, q, k, v, mask []float32, scale float64) (out, lse []float64) {
	out = make([]float64, c.b*c.h*c.lq*c.d)
	lse = make([]float64, c.b*c.h*c.lq)
	for bi := range c.b {
		for hi := range c.h {
			bh := bi*c.h + hi
			for i := range c.lq {
				sc := attnScores(c, q, k, mask, bi, hi, i, scale)
				m := math.Inf(-1)
				for _, x := range sc {
					m = math.Max(m, x)
				}
				if math.IsInf(m, -1) {
					lse[bh*c.lq+i] = m
					continue
				}
				var sum float64
				for _, x := range sc {
					sum += math.Exp(x - m)
				}
				l := m + math.Log(sum)
				lse[bh*c.lq+i] = l
				for j, x := range sc {
					p := math.Exp(x - l)
					for t := range c.d {
						out[(bh*c.lq+i)*c.d+t] += p * float64(v[(bh*c.lk+j)*c.d+t])
					}
				}
			}
		}
	}
	return
}

func testAttention(s *suite) {
	for ci, c := range attnCases {
		q, k, v, mask := s.attnInputs(c)
		out := s.buf("out", len(q))
		lse := s.buf("lse", c.b*c.h*c.lq)
		q0, k0, v0, m0 := copyOf(q), copyOf(k), copyOf(v), copyOf(mask)
		scale := float32(1 / math.Sqrt(float64(c.d)))
		s.b.Attention(out, lse, q, k, v, c.b, c.h, c.lq, c.lk, c.d, scale, c.causal, mask)
		wo, wl := attnRef(c, q0, k0, v0, m0, float64(scale))
		s.close(name("case %d %+v out", ci, c), out, wo, nil, 2e-6, 1e-5)
		s.close(name("case %d %+v lse", ci, c), lse, wl, nil, 2e-6, 2e-6)
		s.unchanged("q", q, q0)
		s.unchanged("k", k, k0)
		s.unchanged("v", v, v0)
		s.unchanged("mask", mask, m0)
	}
}

func testAttentionBackward(s *suite) {
	for ci, c := range attnCases {
		q, k, v, mask := s.attnInputs(c)
		scale := float32(1 / math.Sqrt(float64(c.d)))
		wo, wl := attnRef(c, q, k, v, mask, float64(scale))
		out := s.buf("out", len(q))
		lse := s.buf("lse", len(wl))
		for i, x := range wo {
			out[i] = float32(x)
		}
		for i, x := range wl {
			lse[i] = float32(x)
		}
		dout := s.randn("dout", len(q), 1)
		dq := s.randn("dq", len(q), 1)
		dk := s.randn("dk", len(k), 1)
		dv := s.randn("dv", len(v), 1)
		q0, k0, v0, m0, o0, l0, do0 := copyOf(q), copyOf(k), copyOf(v), copyOf(mask), copyOf(out), copyOf(lse), copyOf(dout)
		dq0, dk0, dv0 := copyOf(dq), copyOf(dk), copyOf(dv)
		s.b.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, c.b, c.h, c.lq, c.lk, c.d, scale, c.causal, mask)
		wq, wk, wv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
		sq, sk, sv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
		for bi := range c.b {
			for hi := range c.h {
				bh := bi*c.h + hi
				for i := range c.lq {
					sc := attnScores(c, q0, k0, m0, bi, hi, i, float64(scale))
					l := float64(l0[bh*c.lq+i])
					var dd float64
					for t := range c.d {
						dd += float64(do0[(bh*c.lq+i)*c.d+t]) * float64(o0[(bh*c.lq+i)*c.d+t])
					}
					for j, x := range sc {
						if math.IsInf(x, -1) {
							continue
						}
						p := math.Exp(x - l)
						var dp float64
						for t := range c.d {
							dp += float64(do0[(bh*c.lq+i)*c.d+t]) * float64(v0[(bh*c.lk+j)*c.d+t])
						}
						ds := p * (dp - dd)
						for t := range c.d {
							qi, kj := (bh*c.lq+i)*c.d+t, (bh*c.lk+j)*c.d+t
							g := float64(do0[qi])
							wv[kj] += p * g
							sv[kj] += math.Abs(p * g)
							wq[qi] += float64(scale) * ds * float64(k0[kj])
							sq[qi] += math.Abs(float64(scale) * p * (math.Abs(dp) + math.Abs(dd)) * float64(k0[kj]))
							wk[kj] += float64(scale) * ds * float64(q0[qi])
							sk[kj] += math.Abs(float64(scale) * p * (math.Abs(dp) + math.Abs(dd)) * float64(q0[qi]))
						}
					}
				}
			}
		}
		for i := range wq {
			wq[i] += float64(dq0[i])
			sq[i] += math.Abs(float64(dq0[i]))
		}
		for i := range wk {
			wk[i] += float64(dk0[i])
			sk[i] += math.Abs(float64(dk0[i]))
			wv[i] += float64(dv0[i])
			sv[i] += math.Abs(float64(dv0[i]))
		}
		what := name("case %d %+v", ci, c)
		s.close(what+" dq", dq, wq, sq, 1e-6, 2e-5)
		s.close(what+" dk", dk, wk, sk, 1e-6, 2e-5)
		s.close(what+" dv", dv, wv, sv, 1e-6, 2e-5)
		s.unchanged("q", q, q0)
		s.unchanged("k", k, k0)
		s.unchanged("v", v, v0)
		s.unchanged("out", out, o0)
		s.unchanged("dout", dout, do0)
	}
}

// testAttentionStrided checks the optional tensor.StridedAttention methods
// (skipped when b lacks them) against the same backend's contiguous
// Attention and AttentionBackward, with every operand stored as (B, L, H, D)
// rows with gaps (NaN) between heads and rows: results agree, nothing but
// the addressed positions is written, and inputs are left unchanged.
func testAttentionStrided(s *suite) {
	sa, ok := s.b.(tensor.StridedAttention)
	if !ok {
		s.t.Skipf("%s has no StridedAttention (AttentionHeads copies heads for it)", s.b.Name())
	}
	nan := float32(math.NaN())
	for ci, c := range attnCases {
		q, k, v, mask := s.attnInputs(c)
		scale := float32(1 / math.Sqrt(float64(c.d)))
		out, lse := s.buf("out", len(q)), s.buf("lse", c.b*c.h*c.lq)
		s.b.Attention(out, lse, q, k, v, c.b, c.h, c.lq, c.lk, c.d, scale, c.causal, mask)
		dout := s.randn("dout", len(q), 1)
		dq, dk, dv := s.buf("dq", len(q)), s.buf("dk", len(k)), s.buf("dv", len(v))
		s.b.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, c.b, c.h, c.lq, c.lk, c.d, scale, c.causal, mask)

		// (B, L, H, D) rows, head stride D+1, row stride H·(D+1)+2, from
		// offset 3.
		layout := func(l int) (tensor.AttnLayout, int) {
			row := c.h*(c.d+1) + 2
			lay := tensor.AttnLayout{Off: 3, Batch: l * row, Head: c.d + 1, Row: row}
			return lay, 3 + c.b*l*row
		}
		strided := func(what string, src []float32, lay tensor.AttnLayout, n, l int) []float32 {
			x := s.buf(what, n)
			for i := range x {
				x[i] = nan
			}
			if src != nil {
				for bi := range c.b {
					for hi := range c.h {
						for i := range l {
							copy(x[lay.Off+bi*lay.Batch+hi*lay.Head+i*lay.Row:][:c.d], src[((bi*c.h+hi)*l+i)*c.d:][:c.d])
						}
					}
				}
			}
			return x
		}
		gather := func(x []float32, lay tensor.AttnLayout, l int) ([]float32, bool) {
			out := make([]float32, c.b*c.h*l*c.d)
			hit := make([]bool, len(x))
			for bi := range c.b {
				for hi := range c.h {
					for i := range l {
						o := lay.Off + bi*lay.Batch + hi*lay.Head + i*lay.Row
						copy(out[((bi*c.h+hi)*l+i)*c.d:][:c.d], x[o:o+c.d])
						for j := o; j < o+c.d; j++ {
							hit[j] = true
						}
					}
				}
			}
			for j, v := range x {
				if !hit[j] && !math.IsNaN(float64(v)) {
					return out, false
				}
			}
			return out, true
		}
		ql, nq := layout(c.lq)
		kl, nk := layout(c.lk)
		a := &tensor.AttnArgs{B: c.b, H: c.h, Lq: c.lq, Lk: c.lk, D: c.d, Scale: scale, Causal: c.causal, Mask: mask,
			Q: strided("q strided", q, ql, nq, c.lq), K: strided("k strided", k, kl, nk, c.lk), V: strided("v strided", v, kl, nk, c.lk),
			Out: strided("out strided", nil, ql, nq, c.lq), QL: ql, KL: kl, VL: kl, OutL: ql, LSE: s.buf("lse strided", len(lse))}
		q0, k0, v0 := copyOf(a.Q), copyOf(a.K), copyOf(a.V)
		sa.AttentionStrided(a)
		what := name("case %d %+v", ci, c)
		got, only := gather(a.Out, ql, c.lq)
		if !only {
			s.t.Errorf("%s: AttentionStrided wrote outside the out operand", what)
		}
		s.close(what+" out", got, f64(out), nil, 1e-6, 1e-6)
		s.close(what+" lse", a.LSE, f64(lse), nil, 1e-6, 1e-6)
		sdout := strided("dout strided", dout, ql, nq, c.lq)
		gq, gk, gv := strided("dq strided", nil, ql, nq, c.lq), strided("dk strided", nil, kl, nk, c.lk), strided("dv strided", nil, kl, nk, c.lk)
		o0, do0 := copyOf(a.Out), copyOf(sdout)
		sa.AttentionStridedBackward(a, gq, gk, gv, sdout)
		for _, g := range []struct {
			what string
			x    []float32
			lay  tensor.AttnLayout
			l    int
			want []float32
		}{{"dq", gq, ql, c.lq, dq}, {"dk", gk, kl, c.lk, dk}, {"dv", gv, kl, c.lk, dv}} {
			got, only := gather(g.x, g.lay, g.l)
			if !only {
				s.t.Errorf("%s: AttentionStridedBackward wrote outside the %s operand", what, g.what)
			}
			s.close(what+" "+g.what, got, f64(g.want), nil, 1e-6, 1e-5)
		}
		s.unchanged("q strided", a.Q, q0)
		s.unchanged("k strided", a.K, k0)
		s.unchanged("v strided", a.V, v0)
		s.unchanged("out strided", a.Out, o0)
		s.unchanged("dout strided", sdout, do0)
	}
}

// ---- embedding, cross-entropy ----

func testGather(s *suite) {
	for _, c := range []struct{ v, dim, n int }{{1, 1, 1}, {10, 7, 30}, {1000, 64, 257}, {5, 3, 0}} {
		table := s.randn("table", c.v*c.dim, 1)
		ids := make([]int32, c.n)
		for i := range ids {
			ids[i] = int32(s.rng.IntN(c.v))
		}
		dst := s.buf("dst", c.n*c.dim)
		t0 := copyOf(table)
		s.b.Gather(dst, table, ids, c.dim)
		want := make([]float64, c.n*c.dim)
		for i, id := range ids {
			for j := range c.dim {
				want[i*c.dim+j] = float64(t0[int(id)*c.dim+j])
			}
		}
		s.close(name("%+v", c), dst, want, nil, 0, 0)
		s.unchanged("table", table, t0)
	}
}

func testScatterAdd(s *suite) {
	for _, c := range []struct{ v, dim, n int }{{1, 1, 1}, {10, 7, 30}, {1000, 64, 257}, {3, 5, 400}, {5, 3, 0}} {
		dtable := s.randn("dtable", c.v*c.dim, 1)
		dy := s.randn("dy", c.n*c.dim, 1)
		ids := make([]int32, c.n)
		for i := range ids {
			ids[i] = int32(s.rng.IntN(c.v))
		}
		dt0, dy0 := copyOf(dtable), copyOf(dy)
		s.b.ScatterAdd(dtable, dy, ids, c.dim)
		want := f64(dt0)
		scale := make([]float64, len(want))
		for i := range scale {
			scale[i] = math.Abs(want[i])
		}
		for i, id := range ids {
			for j := range c.dim {
				want[int(id)*c.dim+j] += float64(dy0[i*c.dim+j])
				scale[int(id)*c.dim+j] += math.Abs(float64(dy0[i*c.dim+j]))
			}
		}
		s.close(name("%+v", c), dtable, want, scale, 0, 1e-6)
		s.unchanged("dy", dy, dy0)
	}
}

var ceCases = []struct {
	rows, n int
	ignore  int32
}{{1, 2, -100}, {9, 37, -100}, {100, 5000, 0}, {7, 3, 1}, {4, 10, -1}}

func (s *suite) ceInputs(rows, n int, ignore int32) ([]float32, []int32) {
	logits := s.randn("logits", rows*n, 3)
	targets := make([]int32, rows)
	for i := range targets {
		targets[i] = int32(s.rng.IntN(n))
		if s.rng.IntN(4) == 0 {
			targets[i] = ignore
		}
	}
	return logits, targets
}

func testCrossEntropy(s *suite) {
	for _, c := range ceCases {
		for _, allIgnored := range []bool{false, true} {
			logits, targets := s.ceInputs(c.rows, c.n, c.ignore)
			if allIgnored {
				for i := range targets {
					targets[i] = c.ignore
				}
			}
			lse := s.buf("lse", c.rows)
			l0 := copyOf(logits)
			sum, count := s.b.CrossEntropy(lse, logits, targets, c.rows, c.n, c.ignore)
			wl := make([]float64, c.rows)
			var wsum, sabs float64
			wcount := 0
			for r := range c.rows {
				_, l := softmaxRef(l0[r*c.n:(r+1)*c.n], true)
				wl[r] = l
				if t := targets[r]; t != c.ignore {
					term := float64(float32(l)) - float64(l0[r*c.n+int(t)])
					wsum += term
					sabs += math.Abs(float64(float32(l))) + math.Abs(float64(l0[r*c.n+int(t)]))
					wcount++
				}
			}
			what := name("%+v allIgnored=%v", c, allIgnored)
			s.close(what+" lse", lse, wl, nil, 1e-6, 2e-6)
			if count != wcount {
				s.t.Errorf("%s: count %d, want %d", what, count, wcount)
			}
			if d := math.Abs(sum - wsum); d > 4e-6*sabs {
				s.t.Errorf("%s: sum %v, want %v (|diff| %.3g)", what, sum, wsum, d)
			}
			s.unchanged("logits", logits, l0)
		}
	}
}

func testCrossEntropyBackward(s *suite) {
	for _, c := range ceCases {
		logits, targets := s.ceInputs(c.rows, c.n, c.ignore)
		lse := s.buf("lse", c.rows)
		for r := range c.rows {
			_, l := softmaxRef(logits[r*c.n:(r+1)*c.n], true)
			lse[r] = float32(l)
		}
		dl := s.randn("dlogits", c.rows*c.n, 1)
		l0, lse0, dl0 := copyOf(logits), copyOf(lse), copyOf(dl)
		const g = 0.37
		s.b.CrossEntropyBackward(dl, logits, lse, targets, c.rows, c.n, c.ignore, g)
		want := f64(dl0)
		scale := make([]float64, len(want))
		for i := range scale {
			scale[i] = math.Abs(want[i])
		}
		for r, t := range targets {
			if t == c.ignore {
				continue
			}
			for i := range c.n {
				p := math.Exp(float64(l0[r*c.n+i]) - float64(lse0[r]))
				want[r*c.n+i] += g * p
				scale[r*c.n+i] += g * p
			}
			want[r*c.n+int(t)] -= g
			scale[r*c.n+int(t)] += g
		}
		s.close(name("%+v", c), dl, want, scale, 1e-7, 4e-6)
		s.unchanged("logits", logits, l0)
		s.unchanged("lse", lse, lse0)
	}
}

// ---- optimizer updates ----

func testAdamW(s *suite) {
	st := tensor.AdamWStep{Beta1: 0.9, Beta2: 0.98, OneMinusBeta1: float32(1 - 0.9), OneMinusBeta2: float32(1 - 0.98),
		Decay: float32(1 - 1e-3*0.05), NegStep: -2.1e-3, Eps: 1e-6 * 0.3}
	for _, n := range []int{0, 1, 1000, 70001} {
		w := s.randn("w", n, 1)
		g := s.randn("g", n, 0.1)
		m := s.randn("m", n, 0.01)
		v := s.uniform("v", n, 0, 1e-3)
		if n > 0 {
			g[0] = 0
		}
		w0, g0, m0, v0 := copyOf(w), copyOf(g), copyOf(m), copyOf(v)
		s.b.AdamW(w, g, m, v, st)
		// scales: the sums of the terms' magnitudes (float32 rounding of
		// each term and sum is relative to them)
		ww, wm, wv := make([]float64, n), make([]float64, n), make([]float64, n)
		sw, sm := make([]float64, n), make([]float64, n)
		for i := range n {
			gi := float64(g0[i])
			mi := float64(st.Beta1)*float64(m0[i]) + float64(st.OneMinusBeta1)*gi
			vi := float64(st.Beta2)*float64(v0[i]) + float64(st.OneMinusBeta2)*gi*gi
			wm[i], wv[i] = mi, vi
			sm[i] = math.Abs(float64(st.Beta1)*float64(m0[i])) + math.Abs(float64(st.OneMinusBeta1)*gi)
			u := float64(st.NegStep) * mi / (math.Sqrt(vi) + float64(st.Eps))
			ww[i] = float64(w0[i])*float64(st.Decay) + u
			// u inherits m's relative error, amplified by cancellation in m
			sw[i] = math.Abs(float64(w0[i])*float64(st.Decay)) + math.Abs(u)*(1+sm[i]/math.Max(math.Abs(mi), 1e-30))
		}
		s.close(name("w n=%d", n), w, ww, sw, 0, 3e-7)
		s.close(name("m n=%d", n), m, wm, sm, 0, 3e-7)
		s.close(name("v n=%d", n), v, wv, nil, 0, 3e-7)
		s.unchanged("g", g, g0)
	}
}

func testSGD(s *suite) {
	variants := []struct {
		name     string
		momentum bool
		st       tensor.SGDStep
	}{
		{"plain", false, tensor.SGDStep{NegLR: -0.1}},
		{"decay", false, tensor.SGDStep{NegLR: -0.1, WeightDecay: 0.01}},
		{"first", true, tensor.SGDStep{NegLR: -0.1, WeightDecay: 0.01, Momentum: 0.9, OneMinusDampening: 0.8, First: true}},
		{"first-nesterov", true, tensor.SGDStep{NegLR: -0.1, Momentum: 0.9, OneMinusDampening: 1, First: true, Nesterov: true}},
		{"nesterov", true, tensor.SGDStep{NegLR: -0.1, WeightDecay: 0.01, Momentum: 0.9, OneMinusDampening: 1, Nesterov: true}},
		{"momentum", true, tensor.SGDStep{NegLR: -0.1, WeightDecay: 0.01, Momentum: 0.9, OneMinusDampening: 0.8}},
	}
	for _, vt := range variants {
		for _, n := range []int{0, 1, 1000, 70001} {
			w := s.randn("w", n, 1)
			g := s.randn("g", n, 1)
			var b, b0 []float32
			if vt.momentum {
				b = s.randn("buf", n, 1)
				b0 = copyOf(b)
			}
			w0, g0 := copyOf(w), copyOf(g)
			s.b.SGD(w, g, b, vt.st)
			st := vt.st
			lr, wd, mu, omd := float64(st.NegLR), float64(st.WeightDecay), float64(st.Momentum), float64(st.OneMinusDampening)
			// scales: sums of the terms' magnitudes
			ww, wb := make([]float64, n), make([]float64, n)
			sw, sb := make([]float64, n), make([]float64, n)
			for i := range n {
				wi := float64(w0[i])
				d := float64(g0[i]) + wd*wi
				sd := math.Abs(float64(g0[i])) + math.Abs(wd*wi)
				switch {
				case !vt.momentum:
					ww[i] = wi + lr*d
					sw[i] = math.Abs(wi) + math.Abs(lr)*sd
				case st.First:
					wb[i], sb[i] = d, sd
					if st.Nesterov {
						d += mu * d
						sd += mu * sd
					}
					ww[i] = wi + lr*d
					sw[i] = math.Abs(wi) + math.Abs(lr)*sd
				default:
					bi := mu*float64(b0[i]) + omd*d
					wb[i] = bi
					sb[i] = math.Abs(mu*float64(b0[i])) + math.Abs(omd)*sd
					if st.Nesterov {
						ww[i] = wi + lr*(d+mu*bi)
						sw[i] = math.Abs(wi) + math.Abs(lr)*(sd+mu*sb[i])
					} else {
						ww[i] = wi + lr*bi
						sw[i] = math.Abs(wi) + math.Abs(lr)*sb[i]
					}
				}
			}
			s.close(name("%s w n=%d", vt.name, n), w, ww, sw, 0, 3e-7)
			if vt.momentum {
				s.close(name("%s buf n=%d", vt.name, n), b, wb, sb, 0, 3e-7)
			}
			s.unchanged("g", g, g0)
		}
	}
}

// ---- optional kernels: bfloat16 weights, decoding attention ----

// bf16 rounds x to bfloat16 bits (ties to even).
func bf16(x float32) uint16 {
	b := math.Float32bits(x)
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func widenRef(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }

// halves returns n bfloat16 values rounded from normals times sd.
func (s *suite) halves(n int, sd float64) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		h[i] = bf16(float32(s.rng.NormFloat64() * sd))
	}
	return h
}

func testWidenBF16(s *suite) {
	k, ok := s.b.(tensor.BF16Widener)
	if !ok {
		s.t.Skipf("%s has no BF16Widener (the ops widen on the host)", s.b.Name())
	}
	for _, n := range []int{0, 1, 17, 5000} {
		src := s.halves(n, 3)
		if n > 4 { // +Inf, −Inf, the smallest subnormal, −0
			copy(src, []uint16{0x7f80, 0xff80, 0x0001, 0x8000})
		}
		dst := s.buf("dst", len(src))
		k.WidenBF16(dst, src)
		want := make([]float64, len(src))
		for i, h := range src {
			want[i] = widenRef(h)
		}
		s.close(name("n=%d", n), dst, want, nil, 0, 0)
	}
}

func testGemmBF16(s *suite) {
	kb, ok := s.b.(tensor.BF16Multiplier)
	if !ok {
		s.t.Skipf("%s has no BF16Multiplier (the ops widen the weights and call Gemm)", s.b.Name())
	}
	for _, c := range []struct {
		m, n, k, ldy int
		bias         bool
	}{{1, 1, 1, 1, false}, {1, 7, 5, 9, true}, {3, 70, 33, 70, true}, {6, 512, 512, 600, true}, {9, 100, 24, 100, false}, {4, 0, 8, 0, true}, {0, 5, 5, 5, true}} {
		x := s.randn("x", c.m*c.k, 1)
		w := s.halves(c.n*c.k, 0.5)
		var bias []float32
		if c.bias {
			bias = s.randn("bias", c.n, 1)
		}
		y := s.buf("y", max(0, (c.m-1)*c.ldy+c.n))
		x0 := copyOf(x)
		kb.GemmBF16(y, c.ldy, x, w, bias, c.m, c.n, c.k)
		got := make([]float32, 0, c.m*c.n)
		want := make([]float64, 0, c.m*c.n)
		scale := make([]float64, 0, c.m*c.n)
		for r := range c.m {
			for o := range c.n {
				sum, abs := 0.0, 0.0
				if bias != nil {
					sum, abs = float64(bias[o]), math.Abs(float64(bias[o]))
				}
				for i := range c.k {
					p := float64(x0[r*c.k+i]) * widenRef(w[o*c.k+i])
					sum += p
					abs += math.Abs(p)
				}
				got = append(got, y[r*c.ldy+o])
				want = append(want, sum)
				scale = append(scale, abs)
			}
		}
		what := name("%+v", c)
		s.close(what, got, want, scale, 0, 1e-6)
		s.unchanged("x", x, x0)
		// A row's outputs do not depend on the other rows and columns
		// computed with it: each row alone, each output column block alone.
		if c.m > 1 && c.n > 1 {
			for r := range c.m {
				one := s.buf("one row", c.n)
				kb.GemmBF16(one, c.n, x[r*c.k:(r+1)*c.k], w, bias, 1, c.n, c.k)
				for o := range c.n {
					if math.Float32bits(one[o]) != math.Float32bits(y[r*c.ldy+o]) {
						s.t.Errorf("%s: row %d alone differs at output %d: %v, in the batch %v", what, r, o, one[o], y[r*c.ldy+o])
						break
					}
				}
			}
			lo, hi := c.n/3, c.n-1
			part := s.buf("columns", c.m*(hi-lo))
			var pb []float32
			if bias != nil {
				pb = bias[lo:hi]
			}
			kb.GemmBF16(part, hi-lo, x, w[lo*c.k:hi*c.k], pb, c.m, hi-lo, c.k)
			for r := range c.m {
				for o := lo; o < hi; o++ {
					if math.Float32bits(part[r*(hi-lo)+o-lo]) != math.Float32bits(y[r*c.ldy+o]) {
						s.t.Fatalf("%s: output %d of row %d differs when computed with columns [%d, %d) only", what, o, r, lo, hi)
					}
				}
			}
		}
	}
}

func testGemmInt8(s *suite) {
	kb, ok := s.b.(tensor.Int8Multiplier)
	if !ok {
		s.t.Skipf("%s has no Int8Multiplier (the ops dequantize the weights and call Gemm)", s.b.Name())
	}
	for _, c := range []struct {
		m, n, k, ldy int
		bias         bool
	}{{1, 1, 1, 1, false}, {1, 7, 5, 9, true}, {3, 70, 33, 70, true}, {6, 512, 512, 600, true}, {9, 100, 24, 100, false}, {4, 0, 8, 0, true}, {0, 5, 5, 5, true}} {
		x := s.randn("x", c.m*c.k, 1)
		w := make([]int8, c.n*c.k)
		for i, v := range s.randn("w", c.n*c.k, 60) {
			w[i] = int8(max(-127, min(127, v)))
		}
		if len(w) > 0 {
			w[0] = 127
		}
		scale := s.uniform("scale", c.n, 0.001, 0.02)
		var bias []float32
		if c.bias {
			bias = s.randn("bias", c.n, 1)
		}
		y := s.buf("y", max(0, (c.m-1)*c.ldy+c.n))
		x0 := copyOf(x)
		kb.GemmInt8(y, c.ldy, x, w, scale, bias, c.m, c.n, c.k)
		got := make([]float32, 0, c.m*c.n)
		want := make([]float64, 0, c.m*c.n)
		mag := make([]float64, 0, c.m*c.n)
		for r := range c.m {
			for o := range c.n {
				sum, abs := 0.0, 0.0
				for i := range c.k {
					p := float64(x0[r*c.k+i]) * float64(w[o*c.k+i]) * float64(scale[o])
					sum += p
					abs += math.Abs(p)
				}
				if bias != nil {
					sum += float64(bias[o])
					abs += math.Abs(float64(bias[o]))
				}
				got = append(got, y[r*c.ldy+o])
				want = append(want, sum)
				mag = append(mag, abs)
			}
		}
		what := name("%+v", c)
		s.close(what, got, want, mag, 0, 1e-6)
		s.unchanged("x", x, x0)
		// A row's outputs do not depend on the other rows and columns
		// computed with it.
		if c.m > 1 && c.n > 1 {
			for r := range c.m {
				one := s.buf("one row", c.n)
				kb.GemmInt8(one, c.n, x[r*c.k:(r+1)*c.k], w, scale, bias, 1, c.n, c.k)
				for o := range c.n {
					if math.Float32bits(one[o]) != math.Float32bits(y[r*c.ldy+o]) {
						s.t.Errorf("%s: row %d alone differs at output %d: %v, in the batch %v", what, r, o, one[o], y[r*c.ldy+o])
						break
					}
				}
			}
			lo, hi := c.n/3, c.n-1
			part := s.buf("columns", c.m*(hi-lo))
			var pb []float32
			if bias != nil {
				pb = bias[lo:hi]
			}
			kb.GemmInt8(part, hi-lo, x, w[lo*c.k:hi*c.k], scale[lo:hi], pb, c.m, hi-lo, c.k)
			for r := range c.m {
				for o := lo; o < hi; o++ {
					if math.Float32bits(part[r*(hi-lo)+o-lo]) != math.Float32bits(y[r*c.ldy+o]) {
						s.t.Fatalf("%s: output %d of row %d differs when computed with columns [%d, %d) only", what, o, r, lo, hi)
					}
				}
			}
		}
	}
}

func testAttendKV(s *suite) {
	ka, ok := s.b.(tensor.KVAttention)
	if !ok {
		s.t.Skipf("%s has no KVAttention (AttendKV runs Gemm and Softmax)", s.b.Name())
	}
	for _, c := range []struct {
		rows, heads, n, d, capacity int
		transposed                  bool
	}{{1, 1, 1, 1, 1, false}, {2, 3, 5, 8, 7, false}, {3, 8, 30, 64, 30, false}, {2, 4, 49, 16, 49, true}, {1, 2, 3, 5, 3, true}, {2, 2, 0, 4, 4, false}} {
		// Buffers: a query row of heads·d values at offset 2 in a row of
		// 3·heads·d + 2 (inside a packed projection), keys and values
		// (rows, 2, heads, capacity, d) or transposed, output rows padded.
		w := c.heads * c.d
		qRow := 3*w + 2
		q := s.randn("q", c.rows*qRow, 1)
		half := c.heads * c.capacity * c.d
		kv := s.randn("kv", c.rows*2*half, 1)
		out := s.buf("out", c.rows*(w+3))
		a := &tensor.KVArgs{Rows: c.rows, Heads: c.heads, N: c.n, D: c.d, Scale: float32(1 / math.Sqrt(float64(c.d))),
			Q: q[2:], QRow: qRow, Out: out, OutRow: w + 3, KV: kv, Row: 2 * half, Head: c.capacity * c.d, Key: c.d, Elem: 1, Values: half}
		if c.transposed {
			a.Key, a.Elem = 1, c.capacity
		}
		q0, kv0 := copyOf(q), copyOf(kv)
		ka.AttendKV(a)
		var got []float32
		var want, scale []float64
		for r := range c.rows {
			for h := range c.heads {
				qh := q0[2+r*qRow+h*c.d:][:c.d]
				base := r*a.Row + h*a.Head
				p := make([]float64, c.n)
				mx := math.Inf(-1)
				for j := range c.n {
					dot := 0.0
					for e := range c.d {
						dot += float64(qh[e]) * float64(kv0[base+j*a.Key+e*a.Elem])
					}
					p[j] = dot * float64(a.Scale)
					mx = math.Max(mx, p[j])
				}
				sum := 0.0
				for j := range p {
					p[j] = math.Exp(p[j] - mx)
					sum += p[j]
				}
				for e := range c.d {
					o, abs := 0.0, 0.0
					for j := range p {
						v := p[j] / sum * float64(kv0[base+a.Values+j*a.Key+e*a.Elem])
						o += v
						abs += math.Abs(v)
					}
					got = append(got, out[r*a.OutRow+h*c.d+e])
					want = append(want, o)
					scale = append(scale, abs)
				}
			}
			for i := w; i < w+3; i++ {
				if out[r*a.OutRow+i] != 0 {
					s.t.Errorf("%+v: wrote the padding of output row %d", c, r)
				}
			}
		}
		s.close(name("%+v", c), got, want, scale, 1e-6, 1e-6)
		s.unchanged("q", q, q0)
		s.unchanged("kv", kv, kv0)
	}
}
