package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// The layers are checked against plain float64 loops written from their
// definitions (torch.nn.MultiheadAttention, open_clip's blocks). The
// float32 kernels differ from them by rounding only: the largest
// difference measured is 5.2e-7 (relative to 1 + |value|, a 3-block
// Transformer); the tests allow 2e-6.
const tol = 2e-6

func randn(g *tensor.RNG, std float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	g.Normal(t, 0, std)
	return t
}

// randomize fills every parameter of m with N(0, std) values, LayerNorm
// gains around 1.
func randomize(g *tensor.RNG, m Module, std float64) {
	for _, p := range m.Params() {
		g.Normal(p.Tensor, 0, std)
		if strings.HasPrefix(p.Name, "ln") || strings.Contains(p.Name, ".ln") {
			if strings.HasSuffix(p.Name, "weight") {
				for i := range p.Tensor.Data() {
					p.Tensor.Data()[i] += 1
				}
			}
		}
	}
}

func f64(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Numel())
	for i, v := range t.Data() {
		out[i] = float64(v)
	}
	return out
}

func near(t *testing.T, what string, got *tensor.Tensor, want []float64) {
	t.Helper()
	if got.Numel() != len(want) {
		t.Fatalf("%s: %d values, want %d", what, got.Numel(), len(want))
	}
	worst := 0.0
	for i, v := range got.Data() {
		d := math.Abs(float64(v)-want[i]) / (1 + math.Abs(want[i]))
		if !(d <= tol) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, v, want[i])
		}
		worst = math.Max(worst, d)
	}
	t.Logf("%s: worst relative difference %.2g", what, worst)
}

// refLinear: y[r, o] = b[o] + Σ x[r, i]·W[o, i].
func refLinear(x []float64, w, b *tensor.Tensor) []float64 {
	out, in := w.Dim(0), w.Dim(1)
	wd := f64(w)
	rows := len(x) / in
	y := make([]float64, rows*out)
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = float64(b.Data()[o])
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * wd[o*in+i]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func refLayerNorm(x []float64, l *LayerNorm) []float64 {
	n := l.Weight.Dim(0)
	y := make([]float64, len(x))
	for r := 0; r < len(x)/n; r++ {
		row := x[r*n : (r+1)*n]
		mean, v := 0.0, 0.0
		for _, a := range row {
			mean += a
		}
		mean /= float64(n)
		for _, a := range row {
			v += (a - mean) * (a - mean)
		}
		rstd := 1 / math.Sqrt(v/float64(n)+float64(l.Eps))
		for i, a := range row {
			y[r*n+i] = (a-mean)*rstd*float64(l.Weight.Data()[i]) + float64(l.Bias.Data()[i])
		}
	}
	return y
}

func refGELU(x []float64, act Activation) []float64 {
	y := make([]float64, len(x))
	for i, a := range x {
		if act == QuickGELU {
			y[i] = a / (1 + math.Exp(-1.702*a))
		} else {
			y[i] = 0.5 * a * (1 + math.Erf(a/math.Sqrt2))
		}
	}
	return y
}

func refMLP(x []float64, m *MLP) []float64 {
	return refLinear(refGELU(refLinear(x, m.CFc.Weight, m.CFc.Bias), m.Act), m.CProj.Weight, m.CProj.Bias)
}

// refAttention is torch.nn.MultiheadAttention (batch first): xq (B, Lq, W),
// xkv (B, Lk, Wkv), mask (B, Lq, Lk) additive or nil, causal hiding key
// j > i + Lk − Lq.
func refAttention(m *MultiheadAttention, xq, xkv []float64, b, lq, lk int, mask []float64, causal bool) []float64 {
	w := m.Width()
	wkv := len(xkv) / (b * lk)
	bias := m.InProjBias.Data()
	part := func(i int) (*tensor.Tensor, *tensor.Tensor) {
		bt := tensor.FromSlice(slices.Clone(bias[i*w:(i+1)*w]), w)
		if m.InProjWeight != nil {
			return tensor.FromSlice(slices.Clone(m.InProjWeight.Data()[i*w*w:(i+1)*w*w]), w, w), bt
		}
		return []*tensor.Tensor{m.QProjWeight, m.KProjWeight, m.VProjWeight}[i], bt
	}
	wq, bq := part(0)
	wk, bk := part(1)
	wv, bv := part(2)
	_ = wkv
	q, k, v := refLinear(xq, wq, bq), refLinear(xkv, wk, bk), refLinear(xkv, wv, bv)
	h := m.Heads
	d := w / h
	scale := 1 / math.Sqrt(float64(d))
	o := make([]float64, b*lq*w)
	s := make([]float64, lk)
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			for i := 0; i < lq; i++ {
				mx := math.Inf(-1)
				for j := 0; j < lk; j++ {
					s[j] = math.Inf(-1)
					if causal && j > i+lk-lq {
						continue
					}
					dot := 0.0
					for c := 0; c < d; c++ {
						dot += q[(bi*lq+i)*w+hh*d+c] * k[(bi*lk+j)*w+hh*d+c]
					}
					s[j] = dot * scale
					if mask != nil {
						s[j] += mask[(bi*lq+i)*lk+j]
					}
					mx = math.Max(mx, s[j])
				}
				sum := 0.0
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for c := 0; c < d; c++ {
					acc := 0.0
					for j := range s {
						acc += s[j] / sum * v[(bi*lk+j)*w+hh*d+c]
					}
					o[(bi*lq+i)*w+hh*d+c] = acc
				}
			}
		}
	}
	return refLinear(o, m.OutProj.Weight, m.OutProj.Bias)
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// refBlock is open_clip's ResidualAttentionBlock: x + attn(ln_1(x), kv),
// then + mlp(ln_2(·)); kv is ln_1_kv(image) for cross-attention, else
// ln_1(x).
func refBlock(blk *ResidualAttentionBlock, x []float64, b, l int, image []float64, t int, mask []float64, causal bool) []float64 {
	h := refLayerNorm(x, blk.Ln1)
	var a []float64
	if image != nil {
		a = refAttention(blk.Attn, h, refLayerNorm(image, blk.Ln1KV), b, l, t, nil, false)
	} else {
		a = refAttention(blk.Attn, h, h, b, l, l, mask, causal)
	}
	x = add(x, a)
	return add(x, refMLP(refLayerNorm(x, blk.Ln2), blk.MLP))
}

func TestLayers(t *testing.T) {
	g := tensor.NewRNG(1)
	x := randn(g, 1, 3, 5, 8)
	lin := NewLinear(8, 6, true)
	randomize(g, lin, 0.3)
	near(t, "Linear", lin.Forward(x), refLinear(f64(x), lin.Weight, lin.Bias))
	ln := NewLayerNorm(8)
	randomize(g, ln, 0.3)
	near(t, "LayerNorm", ln.Forward(x), refLayerNorm(f64(x), ln))
	for _, act := range []Activation{GELU, QuickGELU} {
		mlp := NewMLP(8, 20, act)
		randomize(g, mlp, 0.3)
		near(t, "MLP", mlp.Forward(x), refMLP(f64(x), mlp))
	}
	emb := NewEmbedding(11, 4)
	randomize(g, emb, 1)
	ids := []int{3, 0, 10, 3, 7, 1}
	var want []float64
	for _, id := range ids {
		want = append(want, f64(emb.Weight)[id*4:(id+1)*4]...)
	}
	e := emb.Forward(ids, 2, 3)
	if !slices.Equal(e.Shape(), []int{2, 3, 4}) {
		t.Fatalf("Embedding shape %v", e.Shape())
	}
	near(t, "Embedding", e, want)
	pe := NewPatchEmbed(3, 5, 2)
	randomize(g, pe, 0.3)
	img := randn(g, 1, 2, 3, 4, 6)
	// conv with kernel = stride = 2: patch (gy, gx) of image bi.
	var conv []float64
	for bi := 0; bi < 2; bi++ {
		for gy := 0; gy < 2; gy++ {
			for gx := 0; gx < 3; gx++ {
				for o := 0; o < 5; o++ {
					s := 0.0
					for c := 0; c < 3; c++ {
						for dy := 0; dy < 2; dy++ {
							for dx := 0; dx < 2; dx++ {
								s += float64(img.Data()[((bi*3+c)*4+gy*2+dy)*6+gx*2+dx]) * float64(pe.Weight.Data()[((o*3+c)*2+dy)*2+dx])
							}
						}
					}
					conv = append(conv, s)
				}
			}
		}
	}
	near(t, "PatchEmbed", pe.Forward(img), conv)
}

func TestAttention(t *testing.T) {
	g := tensor.NewRNG(2)
	const b, l, tk, w, heads = 2, 5, 7, 16, 4
	x := randn(g, 1, b, l, w)
	mask := tensor.New(b, l, l)
	for i := range mask.Data() {
		if i%5 == 2 {
			mask.Data()[i] = float32(math.Inf(-1))
		} else {
			mask.Data()[i] = g.Float32() - 0.5
		}
	}
	for _, kv := range []int{w, 12} {
		a := NewMultiheadAttention(w, kv, heads)
		randomize(g, a, 0.3)
		img := randn(g, 1, b, tk, kv)
		name := map[bool]string{true: "packed", false: "separate"}[kv == w]
		if kv == w {
			for _, causal := range []bool{false, true} {
				near(t, name+" self-attention", a.Forward(x, x, mask, causal), refAttention(a, f64(x), f64(x), b, l, l, f64(mask), causal))
			}
		}
		near(t, name+" cross-attention", a.Forward(x, img, nil, false), refAttention(a, f64(x), f64(img), b, l, tk, nil, false))
	}
}

func TestBlocks(t *testing.T) {
	g := tensor.NewRNG(3)
	const b, l, tk, w, heads = 2, 6, 5, 16, 4
	x := randn(g, 1, b, l, w)
	self := NewResidualAttentionBlock(w, heads, 2, GELU, 0)
	randomize(g, self, 0.2)
	near(t, "causal block", self.Forward(x, nil, true), refBlock(self, f64(x), b, l, nil, 0, nil, true))
	cross := NewResidualAttentionBlock(w, heads, 2, QuickGELU, 12)
	randomize(g, cross, 0.2)
	img := randn(g, 1, b, tk, 12)
	near(t, "cross block", cross.ForwardCross(x, img), refBlock(cross, f64(x), b, l, f64(img), tk, nil, false))

	stack := NewTransformer(w, 3, heads, 4, GELU)
	randomize(g, stack, 0.2)
	want := f64(x)
	for _, blk := range stack.Resblocks {
		want = refBlock(blk, want, b, l, nil, 0, nil, false)
	}
	near(t, "Transformer", stack.Forward(x, nil, false), want)

	// The pooler attends from its queries (the same for every row) to x.
	p := NewAttentionalPooler(w, 12, heads, 3)
	randomize(g, p, 0.3)
	q := refLayerNorm(f64(p.Query), p.LnQ)
	var qs []float64
	for range b {
		qs = append(qs, q...)
	}
	near(t, "AttentionalPooler", p.Forward(img), refAttention(p.Attn, qs, refLayerNorm(f64(img), p.LnK), b, 3, tk, nil, false))
}

// TestParamNames: the layers list their parameters under the names of
// open_clip's state_dict.
func TestParamNames(t *testing.T) {
	var names []string
	for _, p := range NewResidualAttentionBlock(8, 2, 4, GELU, 6).Params() {
		names = append(names, p.Name)
	}
	want := []string{"ln_1.weight", "ln_1.bias", "attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight",
		"attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias", "ln_1_kv.weight", "ln_1_kv.bias",
		"ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %v\nwant  %v", names, want)
	}
	names = names[:0]
	for _, p := range NewTransformer(8, 2, 2, 4, GELU).Params() {
		names = append(names, p.Name)
	}
	if len(names) != 2*12 || names[0] != "resblocks.0.ln_1.weight" || names[13] != "resblocks.1.ln_1.bias" || names[2] != "resblocks.0.attn.in_proj_weight" {
		t.Fatalf("transformer names %v", names)
	}
}

// TestGradients: a block's gradients (through attention, both layer
// norms, the MLP and the residuals) match central differences of the loss
// Σ y·r, with the intermediates the block drops held by the graph.
func TestGradients(t *testing.T) {
	g := tensor.NewRNG(4)
	const b, l, w = 2, 4, 8
	blk := NewResidualAttentionBlock(w, 2, 2, GELU, 6)
	randomize(g, blk, 0.3)
	x := randn(g, 1, b, l, w).SetRequiresGrad(true)
	img := randn(g, 1, b, 3, 6)
	r := randn(g, 1, b, l, w)
	loss := func() *tensor.Tensor { return tensor.Sum(tensor.Mul(blk.ForwardCross(x, img), r), false) }
	root := loss()
	tensor.Backward(root)
	tensor.Release(root)
	value := func() float64 {
		s := tensor.NoGrad()
		defer s.End()
		y := blk.ForwardCross(s.Use(x), img)
		v := 0.0
		for i, a := range y.Data() {
			v += float64(a) * float64(r.Data()[i])
		}
		return v
	}
	check := func(name string, p *tensor.Tensor) {
		d := p.Data()
		for _, i := range []int{0, len(d) / 3, len(d) - 1} {
			old := d[i]
			const eps = 1e-2
			d[i] = old + eps
			up := value()
			d[i] = old - eps
			down := value()
			d[i] = old
			num := (up - down) / (2 * eps)
			ana := float64(p.Grad()[i])
			if math.Abs(num-ana) > 2e-2*(1+math.Abs(num)) {
				t.Errorf("%s[%d]: gradient %g, central difference %g", name, i, ana, num)
			}
		}
	}
	check("x", x)
	for _, p := range blk.Params() {
		if p.Tensor.Grad() == nil {
			t.Errorf("%s: no gradient", p.Name)
			continue
		}
		check(p.Name, p.Tensor)
	}
}

// TestScopeDropsIntermediates: a block run in a no-grad scope gives the
// bits of the recorded run and hands every intermediate back to the
// buffer pool, so the pool is back where it started once the output is
// dropped.
func TestScopeDropsIntermediates(t *testing.T) {
	g := tensor.NewRNG(5)
	stack := NewTransformer(16, 2, 4, 4, GELU)
	randomize(g, stack, 0.2)
	p := NewAttentionalPooler(16, 16, 4, 3)
	randomize(g, p, 0.2)
	pe := NewPatchEmbed(3, 16, 2)
	randomize(g, pe, 0.2)
	img := randn(g, 1, 2, 3, 4, 6) // 6 patches
	want := p.Forward(stack.Forward(pe.Forward(img), nil, true))
	s := tensor.NoGrad()
	defer s.End()
	run := func() *tensor.Tensor {
		x := pe.Forward(s.Use(img))
		h := stack.Forward(x, nil, true)
		tensor.Drop(x)
		y := p.Forward(h)
		tensor.Drop(h)
		return y
	}
	scopedRun(t, run, want)
}

// scopedRun checks run, a computation in a no-grad scope: after a warm-up
// run, its result equals want (the recorded run's) bit for bit and it
// hands every pooled buffer back.
func scopedRun(t *testing.T, run func() *tensor.Tensor, want *tensor.Tensor) {
	t.Helper()
	tensor.Drop(run()) // warm the pool
	before := tensor.PoolInUse()
	y := run()
	if !slices.Equal(y.Data(), want.Data()) {
		t.Fatal("values in a no-grad scope differ from the recorded run's")
	}
	tensor.Drop(y)
	if after := tensor.PoolInUse(); after != before {
		t.Fatalf("pooled bytes in use %d after a scoped run, %d before: intermediates not handed back", after, before)
	}
}

// rowsAt returns position p of every row of x (B, L, W) as (B, 1, W).
func rowsAt(x *tensor.Tensor, p int) *tensor.Tensor {
	b, l, w := x.Dim(0), x.Dim(1), x.Dim(2)
	out := tensor.New(b, 1, w)
	for i := 0; i < b; i++ {
		copy(out.Data()[i*w:(i+1)*w], x.Data()[(i*l+p)*w:(i*l+p+1)*w])
	}
	return out
}

// TestSteps: the decoding capabilities of the blocks, Step (causal
// self-attention against a cache) and StepCross (against keys and values
// computed once), give position p of Forward over the whole prefix, with
// float32 weights and with the weights stored in bfloat16 (then against
// float32 weights holding the rounded values). Other kernels sum in other
// orders (one-query attention, one-row products, the bfloat16 kernel):
// within 1e-5 relative, measured 2e-6 for both.
func TestSteps(t *testing.T) {
	g := tensor.NewRNG(6)
	const b, l, tk, w, heads = 3, 6, 5, 16, 4
	self := NewResidualAttentionBlock(w, heads, 4, GELU, 0)
	cross := NewResidualAttentionBlock(w, heads, 4, QuickGELU, 12)
	randomize(g, self, 0.3)
	randomize(g, cross, 0.3)
	x := randn(g, 1, b, l, w)
	img := randn(g, 1, b, tk, 12)
	for _, half := range []bool{false, true} {
		if half {
			for _, blk := range []*ResidualAttentionBlock{self, cross} {
				for _, p := range blk.Params() {
					if p.Tensor.Dims() == 2 {
						d := p.Tensor.Data()
						for i, v := range d {
							u := math.Float32bits(v)
							d[i] = math.Float32frombits((u + 0x7fff + (u>>16)&1) &^ 0xffff) // round to bfloat16
						}
					}
				}
			}
		}
		want := cross.ForwardCross(self.Forward(x, nil, true), img)
		if half {
			for _, blk := range []*ResidualAttentionBlock{self, cross} {
				for _, p := range blk.Params() {
					if p.Tensor.Dims() == 2 {
						p.Tensor.ToBF16(false)
					}
				}
			}
		}
		s := tensor.NoGrad()
		cache := self.NewCache(b, l)
		kv := cross.CrossKV(s.Use(img))
		const tol = 1e-5
		worst := 0.0
		for p := 0; p < l; p++ {
			y := cross.StepCross(self.Step(s.Use(rowsAt(x, p)), cache), kv)
			ref := rowsAt(want, p)
			for i, v := range y.Data() {
				d := math.Abs(float64(v-ref.Data()[i])) / (1 + math.Abs(float64(ref.Data()[i])))
				if !(d <= tol) {
					t.Fatalf("bfloat16 %v: position %d: value %d = %v, Forward %v", half, p, i, v, ref.Data()[i])
				}
				worst = math.Max(worst, d)
			}
		}
		t.Logf("bfloat16 %v: worst relative difference %.2g", half, worst)
		cache.Release()
		kv.Release()
		s.End()
	}
}

// TestForwardLast: Transformer.ForwardLast gives the last position of
// Forward over the whole sequence, against the float64 reference: with an
// additive mask whose last row hides keys (the text tower's CLS row over a
// padded text), with causal masking and no mask, and with no mask at all;
// in a no-grad scope it hands back every intermediate. The last block's
// query, output projection and MLP run on one row per sequence (the
// small-M products) where Forward runs them on all rows; measured worst
// relative difference 3e-7, held to tol (2e-6).
func TestForwardLast(t *testing.T) {
	g := tensor.NewRNG(8)
	const b, l, w, heads = 3, 7, 16, 4
	stack := NewTransformer(w, 3, heads, 4, GELU)
	randomize(g, stack, 0.2)
	x := randn(g, 1, b, l, w)
	// Causal, and in each batch row's last row keys 1 and b+2 hidden
	// (different keys per row, so a mask row read from the wrong batch
	// row or position fails).
	inf := float32(math.Inf(-1))
	md := make([]float32, b*l*l)
	mref := make([]float64, b*l*l)
	for r := range b {
		for i := range l {
			for j := range l {
				v := float32(0)
				if j > i || i == l-1 && (j == 1 || j == r+2) {
					v = inf
				}
				md[(r*l+i)*l+j] = v
				mref[(r*l+i)*l+j] = float64(v)
			}
		}
	}
	mask := tensor.FromSlice(md, b, l, l)
	for _, c := range []struct {
		name   string
		mask   *tensor.Tensor
		mref   []float64
		causal bool
	}{{"mask", mask, mref, false}, {"causal", nil, nil, true}, {"none", nil, nil, false}} {
		t.Run(c.name, func(t *testing.T) {
			want := f64(x)
			for _, blk := range stack.Resblocks {
				want = refBlock(blk, want, b, l, nil, 0, c.mref, c.causal)
			}
			var last []float64
			for r := range b {
				last = append(last, want[(r*l+l-1)*w:(r*l+l)*w]...)
			}
			got := stack.ForwardLast(x, c.mask, c.causal)
			if s := got.Shape(); !slices.Equal(s, []int{b, 1, w}) {
				t.Fatalf("shape %v, want [%d 1 %d]", s, b, w)
			}
			near(t, "ForwardLast", got, last)

			s := tensor.NoGrad()
			defer s.End()
			run := func() *tensor.Tensor {
				m := c.mask
				if m != nil {
					m = s.Use(m)
				}
				return stack.ForwardLast(s.Use(x), m, c.causal)
			}
			scopedRun(t, run, got)
		})
	}
}
