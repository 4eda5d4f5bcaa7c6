package optim

import (
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/gococa/gococa/tensor"
)

// fakeDevice is the CPU backend presented as a device backend with the
// multi-tensor kernels of device.go, each done with the CPU's per-buffer
// methods; it counts the calls.
type fakeDevice struct {
	tensor.Backend
	owned map[*float32]bool
	calls map[string]int
}

func newFakeDevice() *fakeDevice {
	return &fakeDevice{Backend: tensor.CurrentBackend(), owned: map[*float32]bool{}, calls: map[string]int{}}
}

func (f *fakeDevice) Alloc(n int) []float32 {
	b := make([]float32, n)
	f.owned[unsafe.SliceData(b)] = true
	return b
}
func (f *fakeDevice) Free([]float32)        {}
func (f *fakeDevice) Owns(b []float32) bool { return cap(b) > 0 && f.owned[unsafe.SliceData(b)] }

func (f *fakeDevice) SumSquares(x []float32) float64 {
	f.calls["SumSquares"]++
	return f.Backend.SumSquares(x)
}
func (f *fakeDevice) Scale(a float32, d, x []float32) {
	f.calls["Scale"]++
	f.Backend.Scale(a, d, x)
}
func (f *fakeDevice) AdamW(w, g, m, v []float32, s tensor.AdamWStep) {
	f.calls["AdamW"]++
	f.Backend.AdamW(w, g, m, v, s)
}

func (f *fakeDevice) SumSquaresAll(xs [][]float32) float64 {
	f.calls["SumSquaresAll"]++
	var s float64
	for _, x := range xs {
		s += f.Backend.SumSquares(x)
	}
	return s
}
func (f *fakeDevice) ScaleAll(s float32, xs [][]float32) {
	f.calls["ScaleAll"]++
	for _, x := range xs {
		f.Backend.Scale(s, x, x)
	}
}
func (f *fakeDevice) FillAll(xs [][]float32, v float32) {
	f.calls["FillAll"]++
	for _, x := range xs {
		f.Backend.Fill(x, v)
	}
}
func (f *fakeDevice) AdamWAll(ws, gs, ms, vs [][]float32, steps []tensor.AdamWStep) {
	f.calls["AdamWAll"]++
	for i := range ws {
		f.Backend.AdamW(ws[i], gs[i], ms[i], vs[i], steps[i])
	}
}
func (f *fakeDevice) Clamp(x []float32, lo, hi float32) {
	f.calls["Clamp"]++
	for i, v := range x {
		if v < lo {
			x[i] = lo
		} else if v > hi {
			x[i] = hi
		}
	}
}

// deviceRun runs three steps (clipping, AdamW, the clamp, ZeroGrad, a
// gradient scaling) over a few parameters and returns their values, the
// norms and the logit scale.
func deviceRun(t *testing.T) (vals [][]float32, norms []float64) {
	t.Helper()
	shapes := [][]int{{3, 5}, {7}, {}, {2, 3, 4}}
	var ps []*tensor.Tensor
	for i, s := range shapes {
		p := tensor.NewParam(fmt.Sprintf("p%d", i), s...)
		if len(s) == 0 {
			p.SetName("logit_scale")
		}
		tensor.NewRNG(uint64(i)).Normal(p, 0, 1)
		if len(s) == 0 {
			p.Data()[0] = 10 // above ln 100, and pushed up by its gradient: the clamp binds at every step
		}
		ps = append(ps, p)
	}
	opt, err := NewAdamW(ps, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	for step := range 3 {
		for i, p := range ps {
			g := tensor.New(p.Shape()...)
			tensor.NewRNG(uint64(100*step+i)).Normal(g, 0, 3)
			if p.Dims() == 0 {
				g.Data()[0] = -1
			}
			setGrad(p, g.Data())
		}
		ScaleGrads(ps, 0.5)
		norms = append(norms, ClipGradNorm(ps, 1), GradNorm(ps))
		opt.Step(0.5) // large: the logit scale leaves [0, ln 100]
		ClampLogitScale(ps[2])
		opt.ZeroGrad()
		if GradNorm(ps) != 0 {
			t.Fatalf("ZeroGrad left a norm of %v", GradNorm(ps))
		}
	}
	for _, p := range ps {
		vals = append(vals, append([]float32(nil), p.Data()...))
	}
	return vals, norms
}

// TestDeviceKernels: on a device backend with the multi-tensor kernels,
// clipping, AdamW, ZeroGrad, ScaleGrads and the clamp each make one call
// for all parameters (none of the per-parameter methods), with the values
// of the per-parameter path bit for bit.
func TestDeviceKernels(t *testing.T) {
	want, wantNorms := deviceRun(t)
	f := newFakeDevice()
	old := tensor.SetBackend(f)
	defer tensor.SetBackend(old)
	got, gotNorms := deviceRun(t)
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("parameter %d value %d: %v on the device path, %v on the CPU", i, j, got[i][j], want[i][j])
			}
		}
	}
	if fmt.Sprint(gotNorms) != fmt.Sprint(wantNorms) {
		t.Errorf("norms %v on the device path, %v on the CPU", gotNorms, wantNorms)
	}
	if v := got[2][0]; v != float32(MaxLogitScale) {
		t.Errorf("logit scale %v: the clamp did not bind (the test needs it to)", v)
	}
	// per step: ScaleGrads, ClipGradNorm (+ its scaling), GradNorm twice,
	// Step, the clamp, ZeroGrad
	wantCalls := map[string]int{"ScaleAll": 6, "SumSquaresAll": 9, "AdamWAll": 3, "Clamp": 3, "FillAll": 3}
	if fmt.Sprint(f.calls) != fmt.Sprint(wantCalls) {
		t.Errorf("backend calls %v, want %v", f.calls, wantCalls)
	}
}
