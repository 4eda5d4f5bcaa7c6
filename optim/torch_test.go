package optim

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// The reference file and the script that writes it.
const (
	refFile   = "testdata/optim_ref.safetensors"
	refScript = "/usr/bin/python3 optim/testdata/make_fixtures.py"
	refSteps  = 5
	relTol    = 1e-6 // max |go − torch| / max |torch|, per parameter
)

func openRef(t testing.TB) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(refFile)
	if err != nil {
		t.Fatalf("%v (regenerate with %s)", err, refScript)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func mustFloat32(t testing.TB, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := f.Float32(name)
	if err != nil {
		t.Fatalf("%v (regenerate with %s)", err, refScript)
	}
	return v
}

// mustFloat64 reads an F64 tensor exactly.
func mustFloat64(t testing.TB, f *safetensors.File, name string) []float64 {
	t.Helper()
	info, ok := f.Info(name)
	if !ok || info.DType != safetensors.DTypeF64 {
		t.Fatalf("%s: no F64 tensor %q (regenerate with %s)", refFile, name, refScript)
	}
	raw, err := f.Raw(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(raw)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out
}

// refParams makes the fixture's parameters (in file order, names from
// "init.<name>") with their initial values.
func refParams(t testing.TB, f *safetensors.File) []*tensor.Tensor {
	t.Helper()
	var ps []*tensor.Tensor
	for _, key := range f.Names() {
		name, ok := strings.CutPrefix(key, "init.")
		if !ok {
			continue
		}
		info, _ := f.Info(key)
		p := tensor.NewParam(name, info.Shape...)
		p.CopyFrom(mustFloat32(t, f, key))
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		t.Fatalf("%s: no init.* tensors (regenerate with %s)", refFile, refScript)
	}
	return ps
}

// setGrad gives p the gradient g, creating its gradient buffer (through a
// backward pass of sum(p)) when p has none yet.
func setGrad(p *tensor.Tensor, g []float32) {
	if p.Grad() == nil {
		l := tensor.Sum(p, false)
		tensor.Backward(l)
		tensor.Release(l)
	}
	copy(p.Grad(), g)
}

// loadGrads sets the gradients of step s from the fixture. A parameter with
// no gradient in that step must not have one in Go either: the fixture only
// omits gradients before a parameter's first one.
func loadGrads(t testing.TB, f *safetensors.File, ps []*tensor.Tensor, s int) {
	t.Helper()
	for _, p := range ps {
		key := fmt.Sprintf("grad.%d.%s", s, p.Name())
		if _, ok := f.Info(key); !ok {
			if p.Grad() != nil {
				t.Fatalf("%s: %s absent after an earlier gradient; the test cannot unset a gradient", refFile, key)
			}
			continue
		}
		setGrad(p, mustFloat32(t, f, key))
	}
}

// relDiff returns max |got − want| / max |want| and the index of the
// largest difference.
func relDiff(got, want []float32) (rel float64, at int) {
	var maxDiff, maxRef float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > maxDiff || math.IsNaN(d) {
			maxDiff, at = d, i
		}
		maxRef = max(maxRef, math.Abs(float64(want[i])))
	}
	if maxRef == 0 {
		return maxDiff, at
	}
	return maxDiff / maxRef, at
}

// checkParams compares every parameter with the reference after step s.
func checkParams(t *testing.T, f *safetensors.File, run string, s int, ps []*tensor.Tensor) {
	t.Helper()
	for _, p := range ps {
		key := fmt.Sprintf("%s.%d.%s", run, s, p.Name())
		want := mustFloat32(t, f, key)
		got := p.Data()
		rel, at := relDiff(got, want)
		if rel > relTol || math.IsNaN(rel) {
			t.Errorf("%s: max|diff|/max|ref| = %.3g > %g; first mismatch at %d: go %v, torch %v (reference from %s)",
				key, rel, relTol, at, got[at], want[at], refScript)
		} else if s == refSteps-1 && testing.Verbose() {
			t.Logf("%s: max|diff|/max|ref| = %.3g", key, rel)
		}
	}
}

// forceParallel makes every step use the parallel path with tiny work items
// (chunks of 5 values, so every parameter has a tail) on 4 goroutines.
func forceParallel(t *testing.T) {
	oldChunk, oldSerial := chunk, serialBelow
	oldProcs := runtime.GOMAXPROCS(4)
	chunk, serialBelow = 5, 0
	t.Cleanup(func() {
		chunk, serialBelow = oldChunk, oldSerial
		runtime.GOMAXPROCS(oldProcs)
	})
}

// torchRun is one optimizer run of the fixture.
type torchRun struct {
	name  string
	make  func(ps []*tensor.Tensor) (Optimizer, error)
	lr    func(step int) float64
	clip  float64 // max gradient norm; 0 for none
	norms string  // fixture tensor with the norms clip_grad_norm_ returned
}

func torchRuns(t *testing.T) []torchRun {
	cosine, err := NewWarmupCosine(1e-2, 0, 2, refSteps)
	if err != nil {
		t.Fatal(err)
	}
	warmConst, err := NewConstant(0.1, 2)
	if err != nil {
		t.Fatal(err)
	}
	linear, err := NewWarmupLinear(1e-2, 0, 2, refSteps)
	if err != nil {
		t.Fatal(err)
	}
	return []torchRun{
		{
			name: "adamw",
			make: func(ps []*tensor.Tensor) (Optimizer, error) {
				return NewAdamW(ps, AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
			},
			lr: cosine.LR, clip: 1.0, norms: "adamw.norm",
		},
		{
			name: "sgd_nesterov",
			make: func(ps []*tensor.Tensor) (Optimizer, error) {
				return NewSGD(ps, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-2})
			},
			lr: warmConst.LR,
		},
		{
			name: "sgd_dampening",
			make: func(ps []*tensor.Tensor) (Optimizer, error) {
				return NewSGD(ps, SGDConfig{Momentum: 0.8, Dampening: 0.25, WeightDecay: 5e-2})
			},
			lr: func(int) float64 { return 0.05 },
		},
		{
			name: "adafactor",
			make: func(ps []*tensor.Tensor) (Optimizer, error) {
				return NewAdafactor(ps, DefaultAdafactorConfig())
			},
			lr: linear.LR,
		},
		{
			name: "adafactor_hf",
			make: func(ps []*tensor.Tensor) (Optimizer, error) {
				return NewAdafactor(ps, AdafactorConfig{DecayRate: 0.8, Eps1: 1e-30, ClipThreshold: 1})
			},
			lr: func(int) float64 { return 3e-3 },
		},
	}
}

// TestAgainstTorch runs every optimizer of the fixture for 5 steps and
// compares the parameters after each step with PyTorch's, once on the
// default (serial for these sizes) path and once forced parallel.
func TestAgainstTorch(t *testing.T) {
	f := openRef(t)
	for _, run := range torchRuns(t) {
		for _, parallel := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/parallel=%v", run.name, parallel), func(t *testing.T) {
				if parallel {
					forceParallel(t)
				}
				ps := refParams(t, f)
				opt, err := run.make(ps)
				if err != nil {
					t.Fatal(err)
				}
				var norms []float32
				if run.norms != "" {
					norms = mustFloat32(t, f, run.norms)
				}
				for s := range refSteps {
					loadGrads(t, f, ps, s)
					if run.clip > 0 {
						n := ClipGradNorm(ps, run.clip)
						if d := math.Abs(n-float64(norms[s])) / float64(norms[s]); d > relTol {
							t.Errorf("step %d: ClipGradNorm returned %v, torch %v (rel %.3g)", s, n, norms[s], d)
						}
					}
					opt.Step(run.lr(s))
					checkParams(t, f, run.name, s, ps)
				}
			})
		}
	}
}
