package tensor

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestMapBackwardStore: the CPU backend's MapBackwardStore stores exactly
// what MapBackward adds to zeros, for every map op, over a length that
// spans several parallel chunks, overwriting whatever dx held.
func TestMapBackwardStore(t *testing.T) {
	var ms MapBackwardStorer = cpuBackend{}
	g := NewRNG(3)
	n := 3*chunk + 17
	x, dy := New(n), New(n)
	g.Normal(x, 0, 2)
	g.Normal(dy, 0, 1)
	for _, f := range []MapOp{OpExp, OpGELU, OpQuickGELU, OpGELUTanh, OpSigmoid, OpTanh, OpNeg} {
		y := make([]float32, n)
		cpuBackend{}.Map(f, y, x.data)
		want := make([]float32, n)
		cpuBackend{}.MapBackward(f, want, x.data, y, dy.data)
		got := make([]float32, n)
		for i := range got {
			got[i] = float32(math.NaN())
		}
		ms.MapBackwardStore(f, got, x.data, y, dy.data)
		for i := range want {
			if got[i] != want[i] && !(got[i] == 0 && want[i] == 0) {
				t.Fatalf("op %d element %d: stored %v, MapBackward into zeros %v", f, i, got[i], want[i])
			}
		}
	}
}

// geluOperands returns a leaf x that takes a gradient and an incoming
// gradient dy, n values each over several parallel chunks.
func geluOperands(seed uint64) (x, dy *Tensor, n int) {
	g := NewRNG(seed)
	n = 3*chunk + 17
	x, dy = New(n), New(n)
	g.Normal(x, 0, 2)
	g.Normal(dy, 0, 1)
	x.SetRequiresGrad(true)
	return x, dy, n
}

// TestGELUKeepsDerivative: a recorded GELU (the CPU backend keeps the
// derivative from the forward pass, MapDeriver) gives the values of Map and
// the gradients of MapBackward bit for bit (tolerance 0), for a gradient's
// first contribution (stored) and a second one (added), over several
// parallel chunks; and it keeps one buffer, returned by Release.
func TestGELUKeepsDerivative(t *testing.T) {
	x, dy, n := geluOperands(5)
	// h is an intermediate, so its gradient's first contribution is stored.
	h := Scale(x, 1)
	y := GELU(h)
	if y.saved[0] == nil {
		t.Fatal("recorded GELU kept no derivative")
	}
	z := Add(y, GELU(h))
	wantY := make([]float32, n)
	cpuBackend{}.Map(OpGELU, wantY, h.data)
	for i := range wantY {
		if math.Float32bits(y.data[i]) != math.Float32bits(wantY[i]) {
			t.Fatalf("element %d: GELU %v, Map %v", i, y.data[i], wantY[i])
		}
	}
	Backward(Sum(Mul(z, dy), false))
	one := make([]float32, n)
	cpuBackend{}.MapBackward(OpGELU, one, h.data, wantY, dy.data)
	for i := range one {
		if want := one[i] + one[i]; math.Float32bits(h.grad[i]) != math.Float32bits(want) {
			t.Fatalf("element %d: gradient %v, MapBackward twice %v", i, h.grad[i], want)
		}
	}
	Release(z)
	if y.saved[0] != nil {
		t.Fatal("Release left the derivative buffer")
	}
}

// TestGELUTakesGradient: under BackwardRelease a recorded GELU whose input
// has no gradient yet multiplies the derivative into its output's gradient
// buffer in place and hands that buffer to the input, with the values
// MapBackward gives (bit for bit, over several parallel chunks); where the
// input already has a gradient (a second reader), or under Backward, it
// stores or adds into the input's own buffer as before.
func TestGELUTakesGradient(t *testing.T) {
	x, dy, n := geluOperands(7)
	want := func(h *Tensor) []float32 {
		y := make([]float32, n)
		cpuBackend{}.Map(OpGELU, y, h.data)
		d := make([]float32, n)
		cpuBackend{}.MapBackward(OpGELU, d, h.data, y, dy.data)
		return d
	}
	for _, release := range []bool{true, false} {
		h := Scale(x, 1) // an intermediate: its gradient starts fresh
		y := GELU(h)
		ref := want(h)
		// Run y's backward by hand, as the walk does, on a pooled
		// gradient holding dy.
		y.grad = pool.get(n)
		copy(y.grad, dy.data)
		buf := &y.grad[0]
		y.lastBack = release
		y.back()
		if took := h.grad != nil && &h.grad[0] == buf; took != release {
			t.Errorf("release %v: input took the output's gradient buffer: %v", release, took)
		}
		if release && y.grad != nil {
			t.Errorf("the output kept its gradient after handing it over")
		}
		for i := range ref {
			if math.Float32bits(h.grad[i]) != math.Float32bits(ref[i]) {
				t.Fatalf("release %v: element %d: gradient %v, MapBackward %v", release, i, h.grad[i], ref[i])
			}
		}
		// A second contribution is added to the gradient h now has.
		if y.grad != nil {
			pool.put(y.grad)
		}
		y.grad = pool.get(n)
		copy(y.grad, dy.data)
		y.back()
		for i := range ref {
			if w := ref[i] + ref[i]; math.Float32bits(h.grad[i]) != math.Float32bits(w) {
				t.Fatalf("release %v: element %d: second contribution gives %v, want %v", release, i, h.grad[i], w)
			}
		}
		Release(y)
	}
}

// TestGELUInPlace: GELUInPlace gives GELU followed by Drop bit for bit
// (values, and gradients under Backward and BackwardRelease, tolerance 0),
// in the input's buffer where the input is a recorded intermediate no op
// holds, and as GELU and Drop otherwise: an input another op holds for its
// backward keeps its values, as do a leaf and an input without gradients.
func TestGELUInPlace(t *testing.T) {
	g := NewRNG(11)
	const rows, cols = 37, 3 * 67 // several parallel chunks
	w := NewParam("w", cols, cols)
	g.Normal(w, 0, 0.3)
	x := New(rows, cols)
	g.Normal(x, 0, 1)
	dy := New(rows, cols)
	g.Normal(dy, 0, 1)
	leaf := New(rows, cols) // a leaf that takes a gradient
	g.Normal(leaf, 0, 1)
	leaf.SetRequiresGrad(true)
	type result struct {
		y, grad []float32
		inPlace bool
	}
	run := func(inPlace, release bool, kind string) result {
		h := Linear(x, w, nil) // a recorded intermediate
		var other *Tensor
		switch kind {
		case "held":
			other = Mul(h, h) // holds h's values for its backward
		case "leaf":
			h = leaf
		}
		before := h.data
		var y *Tensor
		if inPlace {
			y = GELUInPlace(h)
		} else {
			y = GELU(h)
			Drop(h)
		}
		r := result{y: append([]float32(nil), y.data...), inPlace: &y.data[0] == &before[0]}
		if kind != "plain" && !slices.Equal(before, h.data) {
			t.Errorf("%s input: its values changed", kind)
		}
		loss := Sum(Mul(y, dy), false)
		if other != nil {
			loss = Add(loss, Sum(other, false))
		}
		if release {
			BackwardRelease(loss, nil)
		} else {
			Backward(loss)
			Release(loss)
		}
		r.grad = append(append([]float32(nil), w.Grad()...), leaf.Grad()...)
		w.ZeroGrad()
		leaf.ZeroGrad()
		return r
	}
	for _, kind := range []string{"plain", "held", "leaf"} {
		for _, release := range []bool{false, true} {
			want, got := run(false, release, kind), run(true, release, kind)
			if got.inPlace != (kind == "plain") {
				t.Errorf("%s input, release %v: result in the input's buffer: %v", kind, release, got.inPlace)
			}
			for i := range want.y {
				if math.Float32bits(got.y[i]) != math.Float32bits(want.y[i]) {
					t.Fatalf("%s input: value %d: %v, GELU %v", kind, i, got.y[i], want.y[i])
				}
			}
			for i := range want.grad {
				if math.Float32bits(got.grad[i]) != math.Float32bits(want.grad[i]) {
					t.Fatalf("%s input, release %v: gradient %d: %v, GELU and Drop %v", kind, release, i, got.grad[i], want.grad[i])
				}
			}
		}
	}
	// Without gradients (a no-grad scope's tensors): GELU and Drop.
	s := NoGrad()
	defer s.End()
	h := Linear(s.Use(x), w, nil)
	want := make([]float32, h.Numel())
	cpuBackend{}.Map(OpGELU, want, h.data)
	if y := GELUInPlace(h); !slices.Equal(y.data, want) {
		t.Errorf("no-grad GELUInPlace differs from GELU")
	}
}

// TestAddDropsInputs: a recorded sum or difference does not hold its
// inputs, so Drop hands them back at once (a product still holds its own),
// and the gradients are those of the graph without the Drops bit for bit
// (tolerance 0), under Backward and BackwardRelease.
func TestAddDropsInputs(t *testing.T) {
	g := NewRNG(13)
	w1, w2 := NewParam("w1", 24, 24), NewParam("w2", 24, 24)
	g.Normal(w1, 0, 0.3)
	g.Normal(w2, 0, 0.3)
	x := New(19, 24)
	g.Normal(x, 0, 1)
	for _, op := range []struct {
		name string
		f    func(a, b *Tensor) *Tensor
		held bool
	}{{"Add", Add, false}, {"Sub", Sub, false}, {"Mul", Mul, true}} {
		for _, release := range []bool{false, true} {
			grads := func(drop bool) []float32 {
				h1, h2 := Linear(x, w1, nil), Linear(x, w2, nil)
				y := op.f(h1, h2)
				if drop {
					Drop(h1, h2)
					if got := h1.data != nil || h2.data != nil; got != op.held {
						t.Errorf("%s: inputs kept after Drop: %v, want %v", op.name, got, op.held)
					}
				}
				loss := Sum(Mul(y, y), false)
				if release {
					BackwardRelease(loss, nil)
				} else {
					Backward(loss)
					Release(loss)
				}
				out := append(append([]float32(nil), w1.Grad()...), w2.Grad()...)
				w1.ZeroGrad()
				w2.ZeroGrad()
				return out
			}
			want, got := grads(false), grads(true)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, release %v: gradient %d: %v with Drop, %v without", op.name, release, i, got[i], want[i])
				}
			}
		}
	}
}

// TestStridedColumnSum: the CPU backend's sums of rows into one (bias
// gradients) match a plain float32 loop over the rows in order, bit for bit
// (tolerance 0: every path adds the rows in order), for sums over all or
// some of the outer axes, narrow and wide rows, and sources whose rows are
// not evenly spaced (a transposed view) or are one row repeated (stride 0).
func TestStridedColumnSum(t *testing.T) {
	g := NewRNG(4)
	for _, c := range []struct {
		shape []int
		keep  []bool // outer axes kept in the destination
		ss    []int  // source strides (nil: contiguous)
	}{
		{[]int{600, 2304}, []bool{false}, nil},
		{[]int{832, 64}, []bool{false}, nil},
		{[]int{832, 192}, []bool{false}, nil},
		{[]int{2, 416, 256}, []bool{false, false}, nil},
		{[]int{7, 5, 777}, []bool{false, false}, nil},
		{[]int{3, 9, 1300}, []bool{true, false}, nil},
		{[]int{4, 6, 513}, []bool{false, true}, nil},
		{[]int{5, 7, 33}, []bool{false, false}, []int{33, 5 * 33, 1}}, // axes 0 and 1 swapped
		{[]int{9, 70}, []bool{false}, []int{0, 1}},                    // one row nine times
		{[]int{1, 6, 40}, []bool{false, false}, []int{7, 40, 1}},      // a leading axis of 1
	} {
		n := len(c.shape)
		ss := c.ss
		if ss == nil {
			ss = contiguousStrides(c.shape)
		}
		size := 1
		for i, d := range c.shape {
			size += (d - 1) * ss[i]
		}
		src := New(size)
		g.Normal(src, 0, 1)
		dshape := append([]int(nil), c.shape...)
		for i, k := range c.keep {
			if !k {
				dshape[i] = 1
			}
		}
		dst := New(dshape...)
		g.Normal(dst, 0, 1)
		want := append([]float32(nil), dst.data...)
		sd := broadcastStrides(dshape, c.shape)
		outer := numel(c.shape[:n-1])
		inner := c.shape[n-1]
		for o := 0; o < outer; o++ {
			do, so := offsets(c.shape[:n-1], o, sd, ss)
			for j := 0; j < inner; j++ {
				want[do+j] += src.data[so+j]
			}
		}
		cpuBackend{}.Strided(c.shape, dst.data, sd, src.data, ss, true)
		for i, w := range want {
			if math.Float32bits(dst.data[i]) != math.Float32bits(w) {
				t.Fatalf("shape %v keep %v strides %v: element %d = %v, want %v", c.shape, c.keep, ss, i, dst.data[i], w)
			}
		}
	}
}

// TestCrossEntropyBackwardStore: the stored gradient equals the one added
// to zeros, ignored rows included (stored as zeros over whatever was there).
func TestCrossEntropyBackwardStore(t *testing.T) {
	var cs CrossEntropyBackwardStorer = cpuBackend{}
	g := NewRNG(8)
	rows, n := 37, 1029
	logits := New(rows, n)
	g.Normal(logits, 0, 3)
	targets := make([]int32, rows)
	for i := range targets {
		targets[i] = int32(g.IntN(n))
	}
	targets[5], targets[20] = -100, -100
	lse := make([]float32, rows)
	cpuBackend{}.CrossEntropy(lse, logits.data, targets, rows, n, -100)
	want := make([]float32, rows*n)
	cpuBackend{}.CrossEntropyBackward(want, logits.data, lse, targets, rows, n, -100, 0.3)
	got := make([]float32, rows*n)
	for i := range got {
		got[i] = float32(math.NaN())
	}
	cs.CrossEntropyBackwardStore(got, logits.data, lse, targets, rows, n, -100, 0.3)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] == 0 && want[i] == 0) {
			t.Fatalf("element %d (row %d): stored %v, added to zeros %v", i, i/n, got[i], want[i])
		}
	}
}

// TestRowWalker: the odometer gives offsets' answer at every outer index,
// from any start, for 0 to 10 axes (more than the odometer's 8 fall back
// to offsets), with zero (broadcast) and permuted strides.
func TestRowWalker(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		n := trial % 11
		shape := make([]int, n)
		sa, sb := make([]int, n), make([]int, n)
		total := 1
		for i := range shape {
			shape[i] = 1 + rng.IntN(3)
			total *= shape[i]
			sa[i] = rng.IntN(4) * rng.IntN(50)
			sb[i] = rng.IntN(60)
		}
		start := rng.IntN(total)
		w := newRowWalker(shape, start, sa, sb)
		for o := start; o < total; o++ {
			ao, bo := offsets(shape, o, sa, sb)
			if w.ao != ao || w.bo != bo {
				t.Fatalf("shape %v strides %v %v, start %d: index %d gives (%d, %d), want (%d, %d)", shape, sa, sb, start, o, w.ao, w.bo, ao, bo)
			}
			w.next()
		}
	}
}

// TestZeroGradDeferred: after ZeroGrad a parameter's buffer is left as it
// was (here: NaN), and the next backward pass still gives exactly the
// gradients of a first one: a Linear weight's product stores into it (beta
// 0), the bias's column sum and a second use of the weight add to zeros, a
// parameter the pass does not reach reads zeros, and ZeroGrad of a view
// clears only its part of the base's gradient.
func TestZeroGradDeferred(t *testing.T) {
	g := NewRNG(7)
	x, dy := New(9, 6), New(9, 5)
	w, b, u := New(5, 6), New(5), New(4)
	for _, p := range []*Tensor{x, dy, w, b, u} {
		g.Normal(p, 0, 1)
	}
	for _, p := range []*Tensor{w, b, u} {
		p.SetRequiresGrad(true)
	}
	pass := func(withU bool) {
		y := Add(Linear(x, w, b), Linear(x, w, nil))
		loss := Sum(Mul(y, dy), false)
		if withU {
			loss = Add(loss, Sum(u, false))
		}
		Backward(loss)
		Release(loss)
	}
	pass(true)
	want := [][]float32{slices.Clone(w.Grad()), slices.Clone(b.Grad())}
	if w.Grad()[0] == 0 || b.Grad()[0] == 0 || u.Grad()[0] != 1 {
		t.Fatalf("first pass: dW[0] %v, db[0] %v, du[0] %v", w.Grad()[0], b.Grad()[0], u.Grad()[0])
	}
	nan := float32(math.NaN())
	for _, p := range []*Tensor{w, b, u} {
		p.ZeroGrad()
		for i := range p.grad {
			p.grad[i] = nan // what the buffer holds is not read
		}
	}
	pass(false)
	for k, p := range []*Tensor{w, b} {
		for i, v := range p.Grad() {
			if math.Float32bits(v) != math.Float32bits(want[k][i]) {
				t.Fatalf("%s[%d] after ZeroGrad: %v, first pass %v", []string{"dW", "db"}[k], i, v, want[k][i])
			}
		}
	}
	for i, v := range u.Grad() {
		if v != 0 || math.Signbit(float64(v)) {
			t.Fatalf("unreached parameter: gradient[%d] = %v after ZeroGrad", i, v)
		}
	}
	// A view's ZeroGrad clears its rows only, of a stale base all of it.
	w.ZeroGrad()
	for i := range w.grad {
		w.grad[i] = nan
	}
	Rows(w, 1, 3).ZeroGrad()
	for i, got := range w.Grad() {
		if got != 0 {
			t.Fatalf("a view's ZeroGrad of a stale base: dW[%d] = %v", i, got)
		}
	}
	w.ZeroGrad()
	pass(false)
	Rows(w, 1, 3).ZeroGrad()
	for i, got := range w.Grad() {
		exp := want[0][i]
		if r := i / 6; r >= 1 && r < 3 {
			exp = 0
		}
		if math.Float32bits(got) != math.Float32bits(exp) {
			t.Fatalf("after a view's ZeroGrad: dW[%d] = %v, want %v", i, got, exp)
		}
	}
}

// TestSetGradBuffer: a parameter's gradient moves into a caller's slice
// with its values, later passes accumulate there as into the parameter's
// own buffer (a twin that keeps its own), or, after ZeroGrad, store
// there, and views, outputs and wrong lengths are refused.
func TestSetGradBuffer(t *testing.T) {
	g := NewRNG(8)
	x, dy, w := New(7, 4), New(7, 3), New(3, 4)
	for _, p := range []*Tensor{x, dy, w} {
		g.Normal(p, 0, 1)
	}
	twin := w.Clone()
	w.SetRequiresGrad(true)
	twin.SetRequiresGrad(true)
	passOf := func(w *Tensor) {
		loss := Sum(Mul(Linear(x, w, nil), dy), false)
		Backward(loss)
		Release(loss)
	}
	pass := func() { passOf(w); passOf(twin) }
	pass()
	one := slices.Clone(w.Grad())
	buf := make([]float32, 2+w.Numel())
	buf[0], buf[len(buf)-1] = -1, -1
	w.SetGradBuffer(buf[1 : len(buf)-1])
	if &w.Grad()[0] != &buf[1] || !slices.Equal(w.Grad(), one) {
		t.Fatalf("SetGradBuffer: gradient %v at %p, want %v at %p", w.Grad(), &w.Grad()[0], one, &buf[1])
	}
	pass() // adds
	for i, v := range buf[1 : len(buf)-1] {
		if want := twin.Grad()[i]; math.Float32bits(v) != math.Float32bits(want) || v == one[i] {
			t.Fatalf("second pass: buffer[%d] = %v, want %v (after %v)", i, v, want, one[i])
		}
	}
	w.ZeroGrad()
	pass() // stores
	if !slices.Equal(buf[1:len(buf)-1], one) || buf[0] != -1 || buf[len(buf)-1] != -1 {
		t.Fatalf("after ZeroGrad: buffer %v, want -1, %v, -1", buf, one)
	}
	u := New(3)
	u.SetGradBuffer(make([]float32, 3)) // no gradient yet: zeros
	if !slices.Equal(u.Grad(), []float32{0, 0, 0}) {
		t.Fatalf("SetGradBuffer of a tensor without a gradient: %v", u.Grad())
	}
	for name, f := range map[string]func(){
		"view":   func() { Rows(w, 0, 1).SetGradBuffer(make([]float32, 4)) },
		"output": func() { Scale(w, 2).SetGradBuffer(make([]float32, w.Numel())) },
		"length": func() { w.SetGradBuffer(make([]float32, w.Numel()-1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetGradBuffer of a %s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestLinearBiasOnePass: Linear with a bias (one product that adds the
// bias, BiasProducts) gives, bit for bit, the rows filled with the bias
// and the product added (a backend without the extension), with float32
// and bfloat16 products, and under CPUBF16, whose products are bfloat16
// whatever the tensors' precision.
func TestLinearBiasOnePass(t *testing.T) {
	g := NewRNG(9)
	x, w, b := New(157, 70), New(103, 70), New(103)
	for _, p := range []*Tensor{x, w, b} {
		g.Normal(p, 0, 1)
	}
	for _, c := range []struct {
		name    string
		backend Backend
		prec    Precision
	}{{"cpu/f32", cpuBackend{}, PrecisionF32}, {"cpu/bf16", cpuBackend{}, PrecisionBF16}, {"cpu-bf16/f32", CPUBF16(), PrecisionF32}} {
		func() {
			defer SetBackend(SetBackend(c.backend))
			w.SetPrecision(c.prec)
			defer w.SetPrecision(PrecisionF32)
			got := Linear(x, w, b)
			var want *Tensor
			func() {
				// The same backend without BiasProducts.
				type noBias struct {
					Backend
					BF16Products
				}
				defer SetBackend(SetBackend(noBias{c.backend, c.backend.(BF16Products)}))
				want = Linear(x, w, b)
			}()
			for i, v := range got.Data() {
				if math.Float32bits(v) != math.Float32bits(want.Data()[i]) {
					t.Fatalf("%s: out[%d] = %v, filled and added %v", c.name, i, v, want.Data()[i])
				}
			}
			if _, ok := c.backend.(BiasProducts); !ok {
				t.Fatalf("%s: backend without BiasProducts", c.name)
			}
		}()
	}
}

// TestBinarySameShape: the CPU backend's elementwise Add and Mul of two
// operands laid out as the output (one flat row, split between goroutines
// in chunks) match the scalar loop bit for bit (tolerance 0: one rounding
// per element either way), on an output large enough to be split.
func TestBinarySameShape(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	shape := []int{3, 701, 257} // 540,471 values: many chunks, a short last one
	n := numel(shape)
	g := NewRNG(5)
	a, b := New(n), New(n)
	g.Normal(a, 0, 1)
	g.Normal(b, 0, 1)
	cs := contiguousStrides(shape)
	for _, op := range []BinOp{OpAdd, OpMul} {
		dst := make([]float32, n)
		cpuBackend{}.Binary(op, shape, dst, a.data, cs, b.data, cs)
		for i := range dst {
			want := a.data[i] + b.data[i]
			if op == OpMul {
				want = a.data[i] * b.data[i]
			}
			if math.Float32bits(dst[i]) != math.Float32bits(want) {
				t.Fatalf("op %d: element %d = %v, want %v", op, i, dst[i], want)
			}
		}
	}
}
