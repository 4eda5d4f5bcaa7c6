package tensor_test

import (
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// The fixture golden/testdata/ops.safetensors is written by
// golden/pytorch/make_ops.py: outputs and gradients computed by PyTorch in
// float64 from float32 inputs, stored correctly rounded.
const opsFixture = "../golden/testdata/ops.safetensors"

type opsFile struct {
	t *testing.T
	f *safetensors.File
}

func (o opsFile) tensor(name string) *tensor.Tensor {
	info, ok := o.f.Info(name)
	if !ok {
		o.t.Fatalf("%s: no tensor %q (rerun golden/pytorch/make_ops.py)", opsFixture, name)
	}
	v, err := o.f.Float32(name)
	if err != nil {
		o.t.Fatal(err)
	}
	return tensor.FromSlice(v, info.Shape...)
}

func (o opsFile) ints(name string) []int {
	v, err := o.f.Int64(name)
	if err != nil {
		o.t.Fatal(err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// check asserts |got − ref| ≤ rel·|ref| + rel·1e-1·max|ref| elementwise: a
// relative bound with a floor a decade below it for entries near zero.
func check(t *testing.T, name string, got []float32, ref *tensor.Tensor, rel float64) {
	t.Helper()
	want := ref.Data()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference has %d", name, len(got), len(want))
	}
	var maxRef float64
	for _, v := range want {
		if !math.IsInf(float64(v), 0) {
			maxRef = math.Max(maxRef, math.Abs(float64(v)))
		}
	}
	worst, bad := 0.0, 0
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsInf(w, 0) || math.IsInf(g, 0) {
			if g != w {
				t.Errorf("%s[%d] = %v, want %v", name, i, g, w)
			}
			continue
		}
		d := math.Abs(g - w)
		lim := rel*math.Abs(w) + rel*0.1*maxRef
		if r := d / (math.Abs(w) + 0.1*maxRef); r > worst {
			worst = r
		}
		if !(d <= lim) {
			bad++
			if bad <= 3 {
				t.Errorf("%s[%d] = %.9g, want %.9g (|diff| %.3g > %.3g)", name, i, g, w, d, lim)
			}
		}
	}
	t.Logf("%-22s worst relative error %.2e (limit %.0e)", name, worst, rel)
}

// grads runs out = f(inputs), backpropagates Σ out·dy and returns the
// inputs' gradients.
func grads(f func(in []*tensor.Tensor) *tensor.Tensor, dy *tensor.Tensor, in ...*tensor.Tensor) (*tensor.Tensor, [][]float32) {
	for _, x := range in {
		x.SetRequiresGrad(true)
		x.ZeroGrad()
	}
	out := f(in)
	y := out.Clone()
	tensor.Backward(tensor.Sum(tensor.Mul(out, dy), false))
	var gs [][]float32
	for _, x := range in {
		gs = append(gs, append([]float32(nil), x.Grad()...))
	}
	return y, gs
}

func TestOpsMatchPyTorch(t *testing.T) {
	f, err := safetensors.Open(opsFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := opsFile{t, f}
	const fwd, bwd = 1e-6, 1e-5

	t.Run("softmax", func(t *testing.T) {
		y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Softmax(in[0]) }, o.tensor("softmax.dy"), o.tensor("softmax.x"))
		check(t, "softmax.y", y.Data(), o.tensor("softmax.y"), fwd)
		check(t, "softmax.dx", g[0], o.tensor("softmax.dx"), bwd)
		y, g = grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Softmax(in[0]) }, o.tensor("softmax.dy_masked"), o.tensor("softmax.x_masked"))
		check(t, "softmax.y_masked", y.Data(), o.tensor("softmax.y_masked"), fwd)
		check(t, "softmax.dx_masked", g[0], o.tensor("softmax.dx_masked"), bwd)
	})
	t.Run("log_softmax", func(t *testing.T) {
		y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.LogSoftmax(in[0]) }, o.tensor("log_softmax.dy"), o.tensor("log_softmax.x"))
		check(t, "log_softmax.y", y.Data(), o.tensor("log_softmax.y"), fwd)
		check(t, "log_softmax.dx", g[0], o.tensor("log_softmax.dx"), bwd)
	})
	t.Run("layernorm", func(t *testing.T) {
		x, w, b := o.tensor("layernorm.x"), o.tensor("layernorm.weight"), o.tensor("layernorm.bias")
		y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.LayerNorm(in[0], in[1], in[2], 1e-5) }, o.tensor("layernorm.dy"), x, w, b)
		check(t, "layernorm.y", y.Data(), o.tensor("layernorm.y"), fwd)
		check(t, "layernorm.dx", g[0], o.tensor("layernorm.dx"), bwd)
		check(t, "layernorm.dweight", g[1], o.tensor("layernorm.dweight"), bwd)
		check(t, "layernorm.dbias", g[2], o.tensor("layernorm.dbias"), bwd)
		y6 := tensor.LayerNorm(o.tensor("layernorm.x"), w, b, 1e-6)
		check(t, "layernorm.y_eps1e-6", y6.Data(), o.tensor("layernorm.y_eps1e-6"), fwd)
	})
	unary := []struct {
		name string
		f    func(*tensor.Tensor) *tensor.Tensor
	}{
		{"gelu", tensor.GELU}, {"quick_gelu", tensor.QuickGELU}, {"gelu_tanh", tensor.GELUTanh},
		{"sigmoid", tensor.Sigmoid}, {"exp", tensor.Exp},
	}
	for _, u := range unary {
		t.Run(u.name, func(t *testing.T) {
			y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return u.f(in[0]) }, o.tensor(u.name+".dy"), o.tensor("gelu.x"))
			check(t, u.name+".y", y.Data(), o.tensor(u.name+".y"), fwd)
			check(t, u.name+".dx", g[0], o.tensor(u.name+".dx"), bwd)
		})
	}
	t.Run("attention", func(t *testing.T) {
		q, k, v := o.tensor("attn.q"), o.tensor("attn.k"), o.tensor("attn.v")
		mask := o.tensor("attn.mask")
		y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Attention(in[0], in[1], in[2], mask, false, 0) }, o.tensor("attn.dy"), q, k, v)
		check(t, "attn.y_mask", y.Data(), o.tensor("attn.y_mask"), fwd)
		check(t, "attn.dq", g[0], o.tensor("attn.dq"), bwd)
		check(t, "attn.dk", g[1], o.tensor("attn.dk"), bwd)
		check(t, "attn.dv", g[2], o.tensor("attn.dv"), bwd)
		y, g = grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Attention(in[0], in[1], in[2], nil, false, 0) }, o.tensor("attn.dy"), q, k, v)
		check(t, "attn.y_nomask", y.Data(), o.tensor("attn.y_nomask"), fwd)
		check(t, "attn.dq_nomask", g[0], o.tensor("attn.dq_nomask"), bwd)
		cq, ck, cv := o.tensor("attn_causal.q"), o.tensor("attn_causal.k"), o.tensor("attn_causal.v")
		y, g = grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Attention(in[0], in[1], in[2], nil, true, 0) }, o.tensor("attn_causal.dy"), cq, ck, cv)
		check(t, "attn_causal.y", y.Data(), o.tensor("attn_causal.y"), fwd)
		check(t, "attn_causal.dq", g[0], o.tensor("attn_causal.dq"), bwd)
		check(t, "attn_causal.dk", g[1], o.tensor("attn_causal.dk"), bwd)
		check(t, "attn_causal.dv", g[2], o.tensor("attn_causal.dv"), bwd)
	})
	t.Run("cross_entropy", func(t *testing.T) {
		target := o.ints("ce.target")
		for _, c := range []struct {
			suffix string
			ignore int
		}{{"", 0}, {"_noignore", -100}} {
			x := o.tensor("ce.logits").SetRequiresGrad(true)
			loss := tensor.CrossEntropy(x, target, c.ignore)
			tensor.Backward(loss)
			check(t, "ce.loss"+c.suffix, loss.Data(), o.tensor("ce.loss"+c.suffix), fwd)
			check(t, "ce.dlogits"+c.suffix, x.Grad(), o.tensor("ce.dlogits"+c.suffix), bwd)
		}
	})
	t.Run("normalize", func(t *testing.T) {
		x := o.tensor("normalize.x")
		y, g := grads(func(in []*tensor.Tensor) *tensor.Tensor { return tensor.Normalize(in[0], 1e-12) }, o.tensor("normalize.dy"), x)
		check(t, "normalize.y", y.Data(), o.tensor("normalize.y"), fwd)
		// The all-zero row's dx is dy/eps (~1e12); checked on its own so that
		// it does not set the scale for the other rows.
		ref := o.tensor("normalize.dx")
		n := x.Dim(1)
		zero := -1
		for r := 0; r < x.Dim(0); r++ {
			if tensor.Sum(tensor.Mul(tensor.Rows(x, r, r+1), tensor.Rows(x, r, r+1)), false).Item() == 0 {
				zero = r
			}
		}
		if zero < 0 {
			t.Fatalf("%s: normalize.x has no all-zero row", opsFixture)
		}
		var gotRest, refRest []float32
		for r := 0; r < x.Dim(0); r++ {
			if r != zero {
				gotRest = append(gotRest, g[0][r*n:(r+1)*n]...)
				refRest = append(refRest, ref.Data()[r*n:(r+1)*n]...)
			}
		}
		check(t, "normalize.dx (rows ≠ 0)", gotRest, tensor.FromSlice(refRest, len(refRest)), bwd)
		check(t, "normalize.dx (zero row)", g[0][zero*n:(zero+1)*n], tensor.FromSlice(append([]float32(nil), ref.Data()[zero*n:(zero+1)*n]...), n), bwd)
	})
}
