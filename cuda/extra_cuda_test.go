//go:build cuda && cgo

package cuda

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// TestExtraKernels checks the kernels beyond tensor.Backend on the GPU,
// with Go memory (staged) and with the backend's memory: the storing
// backward passes against the accumulating ones into zeros (bit for bit,
// over a NaN-filled destination), and the multi-tensor optimizer calls
// against their per-buffer forms.
func TestExtraKernels(t *testing.T) {
	b := gpu(t)
	for _, mem := range []string{"staged", "device"} {
		alloc := func(n int) []float32 { return make([]float32, n) }
		if mem == "device" {
			alloc = b.Alloc
		}
		// fill sets x from a fixed sequence (through the host: with
		// device memory the backend copies).
		fill := func(x []float32, seed uint64, sd float64) {
			v := make([]float32, len(x))
			g := tensor.NewRNG(seed)
			tmp := tensor.FromSlice(v, len(v))
			g.Normal(tmp, 0, sd)
			b.CopyFromHost(x, v)
		}
		host := func(x []float32) []float32 {
			v := make([]float32, len(x))
			b.CopyToHost(v, x)
			return v
		}
		nan := func(x []float32) {
			v := make([]float32, len(x))
			for i := range v {
				v[i] = float32(math.NaN())
			}
			b.CopyFromHost(x, v)
		}
		same := func(t *testing.T, what string, got, want []float32) {
			t.Helper()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] == 0 && want[i] == 0) {
					t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
				}
			}
		}
		t.Run(mem+"/MapBackwardStore", func(t *testing.T) {
			n := 3*256*b.d.sms*32 + 17 // more than one grid-stride pass
			x, dy, y := alloc(n), alloc(n), alloc(n)
			fill(x, 1, 2)
			fill(dy, 2, 1)
			for _, f := range []tensor.MapOp{tensor.OpExp, tensor.OpGELU, tensor.OpQuickGELU, tensor.OpGELUTanh, tensor.OpSigmoid, tensor.OpTanh, tensor.OpNeg} {
				b.Map(f, y, x)
				want := alloc(n)
				b.Fill(want, 0)
				b.MapBackward(f, want, x, y, dy)
				got := alloc(n)
				nan(got)
				b.MapBackwardStore(f, got, x, y, dy)
				same(t, fmt.Sprintf("op %d", f), host(got), host(want))
			}
		})
		t.Run(mem+"/CrossEntropyBackwardStore", func(t *testing.T) {
			rows, n := 37, 1029
			logits := alloc(rows * n)
			fill(logits, 3, 3)
			targets := make([]int32, rows)
			for i := range targets {
				targets[i] = int32((i * 131) % n)
			}
			targets[5], targets[20] = -100, -100
			lse := alloc(rows)
			b.CrossEntropy(lse, logits, targets, rows, n, -100)
			want := alloc(rows * n)
			b.Fill(want, 0)
			b.CrossEntropyBackward(want, logits, lse, targets, rows, n, -100, 0.3)
			got := alloc(rows * n)
			nan(got)
			b.CrossEntropyBackwardStore(got, logits, lse, targets, rows, n, -100, 0.3)
			same(t, "dlogits", host(got), host(want))
		})
		t.Run(mem+"/MultiTensor", func(t *testing.T) {
			sizes := []int{1, 255, 256, 257, 70000, 300001}
			var xs, ys [][]float32
			for i, n := range sizes {
				x, y := alloc(n), alloc(n)
				fill(x, uint64(10+i), 1)
				b.CopyFromHost(y, host(x))
				xs, ys = append(xs, x), append(ys, y)
			}
			// SumSquaresAll against Σ SumSquares (float64 sums in another
			// order: 1e-12 relative; measured 0 to 2e-16)
			var want float64
			for _, x := range xs {
				want += b.SumSquares(x)
			}
			got := b.SumSquaresAll(xs)
			if math.Abs(got-want) > 1e-12*want {
				t.Errorf("SumSquaresAll = %v, Σ SumSquares = %v", got, want)
			}
			b.ScaleAll(-0.37, xs)
			for i := range ys {
				b.Scale(-0.37, ys[i], ys[i])
				same(t, "ScaleAll", host(xs[i]), host(ys[i]))
			}
			// AdamWAll against AdamW, buffer by buffer, different constants
			var gs, ms, vs, ms2, vs2 [][]float32
			var steps []tensor.AdamWStep
			for i, n := range sizes {
				g, m, v := alloc(n), alloc(n), alloc(n)
				fill(g, uint64(20+i), 0.1)
				fill(m, uint64(30+i), 0.01)
				fill(v, uint64(40+i), 0.001)
				b.CopyFromHost(v, absAll(host(v)))
				m2, v2 := alloc(n), alloc(n)
				b.CopyFromHost(m2, host(m))
				b.CopyFromHost(v2, host(v))
				gs, ms, vs, ms2, vs2 = append(gs, g), append(ms, m), append(vs, v), append(ms2, m2), append(vs2, v2)
				steps = append(steps, tensor.AdamWStep{Beta1: 0.9, Beta2: 0.999, OneMinusBeta1: 0.1, OneMinusBeta2: 0.001,
					Decay: 1 - 1e-5*float32(i), NegStep: -1e-3 * float32(i+1), Eps: 1e-8})
			}
			b.AdamWAll(xs, gs, ms, vs, steps)
			for i := range ys {
				b.AdamW(ys[i], gs[i], ms2[i], vs2[i], steps[i])
				same(t, "AdamWAll w", host(xs[i]), host(ys[i]))
				same(t, "AdamWAll m", host(ms[i]), host(ms2[i]))
				same(t, "AdamWAll v", host(vs[i]), host(vs2[i]))
			}
			b.FillAll(xs, 0)
			for i := range xs {
				same(t, "FillAll", host(xs[i]), make([]float32, len(xs[i])))
			}
		})
		t.Run(mem+"/Clamp", func(t *testing.T) {
			in := []float32{-1, 0, 0.5, 4.6, 4.7, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
			x := alloc(len(in))
			b.CopyFromHost(x, in)
			b.Clamp(x, 0, 4.6)
			got := host(x)
			want := []float32{0, 0, 0.5, 4.6, 4.6, 4.6, 0, float32(math.NaN())}
			for i := range want {
				if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
					t.Errorf("Clamp(%v) = %v, want %v", in[i], got[i], want[i])
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(r.(string), "AdamWAll") {
				t.Errorf("mismatched AdamWAll lists: %v, want a panic naming AdamWAll", r)
			}
		}()
		b.AdamWAll([][]float32{{1}}, nil, nil, nil, nil)
	})
}

func absAll(x []float32) []float32 {
	for i, v := range x {
		x[i] = float32(math.Abs(float64(v)))
	}
	return x
}

// TestLibraryOrder: the CUDA libraries of the driver's major version are
// tried first.
func TestLibraryOrder(t *testing.T) {
	for _, c := range []struct {
		major int
		want  string
	}{
		{0, "[libnvrtc.so libnvrtc.so.13 libnvrtc.so.12 libnvrtc.so.11.2]"},
		{12, "[libnvrtc.so libnvrtc.so.12 libnvrtc.so.11.2 libnvrtc.so.13]"},
		{13, "[libnvrtc.so libnvrtc.so.13 libnvrtc.so.12 libnvrtc.so.11.2]"},
		{11, "[libnvrtc.so libnvrtc.so.11.2 libnvrtc.so.12 libnvrtc.so.13]"},
	} {
		if got := fmt.Sprint(byDriver(nvrtcNames, c.major)); got != c.want {
			t.Errorf("driver CUDA %d: %s, want %s", c.major, got, c.want)
		}
	}
}

// TestAdafactorOnDevice runs optim's Adafactor for three steps on the CPU
// and on the GPU (AdafactorStep) over factored parameters (with a batch of
// matrices), vectors and a scalar, with and without a first moment, and
// compares parameters and state: within 2e-6 relative (float64 sums in
// another order, and the GPU may fuse multiply-adds).
func TestAdafactorOnDevice(t *testing.T) {
	b := gpu(t)
	shapes := [][]int{{4, 3, 5, 6}, {7, 9}, {300, 2}, {11}, {}}
	run := func(be tensor.Backend, beta1 float64) (vals map[string][]float32, state map[string][]float32) {
		if be != nil {
			old := tensor.SetBackend(be)
			defer tensor.SetBackend(old)
		}
		var ps []*tensor.Tensor
		for i, s := range shapes {
			p := tensor.NewParam(fmt.Sprintf("p%d", i), s...)
			v := make([]float32, p.Numel())
			tensor.NewRNG(uint64(i)).Normal(tensor.FromSlice(v, len(v)), 0, 1)
			p.CopyFrom(v)
			ps = append(ps, p)
		}
		cfg := optim.DefaultAdafactorConfig()
		cfg.Beta1 = beta1
		opt, err := optim.NewAdafactor(ps, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for step := range 3 {
			for i, p := range ps {
				g := make([]float32, p.Numel())
				tensor.NewRNG(uint64(100*step+i)).Normal(tensor.FromSlice(g, len(g)), 0, 3)
				p.ZeroGrad()
				tensor.CurrentBackend().Axpy(1, g, gradOf(p))
			}
			opt.Step(0.01)
		}
		vals = map[string][]float32{}
		for _, p := range ps {
			vals[p.Name()] = append([]float32(nil), tensor.HostValues(p, nil)...)
		}
		state = map[string][]float32{}
		for k, v := range opt.State().Tensors {
			state[k] = append([]float32(nil), v.Data...)
		}
		return vals, state
	}
	for _, beta1 := range []float64{0.9, 0} {
		wantV, wantS := run(nil, beta1)
		gotV, gotS := run(b, beta1)
		worst := 0.0
		cmp := func(what string, got, want map[string][]float32) {
			if len(got) != len(want) {
				t.Fatalf("beta1 %v: %d %s tensors on the GPU, %d on the CPU", beta1, len(got), what, len(want))
			}
			for k, w := range want {
				g := got[k]
				for i := range w {
					d := math.Abs(float64(g[i]) - float64(w[i]))
					worst = math.Max(worst, d/(math.Abs(float64(w[i]))+1e-30))
					if d > 2e-6*math.Abs(float64(w[i]))+1e-12 {
						t.Fatalf("beta1 %v: %s %s[%d] = %v on the GPU, %v on the CPU", beta1, what, k, i, g[i], w[i])
					}
				}
			}
		}
		cmp("parameter", gotV, wantV)
		cmp("state", gotS, wantS)
		t.Logf("beta1 %v: worst relative difference %.3g", beta1, worst)
	}
}

// gradOf returns p's gradient buffer, made by a backward pass of sum(p)
// when p has none yet.
func gradOf(p *tensor.Tensor) []float32 {
	if p.Grad() == nil {
		l := tensor.Sum(p, false)
		tensor.Backward(l)
		tensor.Release(l)
	}
	return p.Grad()
}
