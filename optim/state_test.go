package optim

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// optimizers made over the fixture's parameters, one per kind and mode.
var stateCases = []struct {
	name string
	make func(ps []*tensor.Tensor) (Optimizer, error)
}{
	{"adamw", func(ps []*tensor.Tensor) (Optimizer, error) { return NewAdamW(ps, DefaultAdamWConfig()) }},
	{"adafactor", func(ps []*tensor.Tensor) (Optimizer, error) { return NewAdafactor(ps, DefaultAdafactorConfig()) }},
	{"adafactor_hf", func(ps []*tensor.Tensor) (Optimizer, error) {
		return NewAdafactor(ps, AdafactorConfig{DecayRate: 0.8, Eps1: 1e-30, ClipThreshold: 1, WeightDecay: 0.01})
	}},
	{"sgd", func(ps []*tensor.Tensor) (Optimizer, error) {
		return NewSGD(ps, SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-2})
	}},
	{"sgd_plain", func(ps []*tensor.Tensor) (Optimizer, error) { return NewSGD(ps, SGDConfig{WeightDecay: 1e-2}) }},
}

func mustOpt(t *testing.T, newOpt func([]*tensor.Tensor) (Optimizer, error), ps []*tensor.Tensor) Optimizer {
	t.Helper()
	o, err := newOpt(ps)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestStateRoundTrip saves the state after 2 steps, loads it (directly and
// through a file) into a fresh optimizer over fresh parameters holding the
// values of step 2, and checks that the next 3 steps equal an uninterrupted
// run bit for bit.
func TestStateRoundTrip(t *testing.T) {
	f := openRef(t)
	lr := func(s int) float64 { return 1e-2 / float64(s+1) }
	for _, c := range stateCases {
		for _, viaFile := range []bool{false, true} {
			name := c.name
			if viaFile {
				name += "/file"
			}
			t.Run(name, func(t *testing.T) {
				// uninterrupted
				ref := refParams(t, f)
				o := mustOpt(t, c.make, ref)
				for s := range refSteps {
					loadGrads(t, f, ref, s)
					o.Step(lr(s))
				}

				// interrupted after 2 steps
				ps := refParams(t, f)
				o1 := mustOpt(t, c.make, ps)
				for s := range 2 {
					loadGrads(t, f, ps, s)
					o1.Step(lr(s))
				}
				st := o1.State()
				if st.Steps != 2 {
					t.Errorf("State().Steps = %d, want 2", st.Steps)
				}
				if got := st.ParamSteps["text.cls_emb"]; got != 0 {
					t.Errorf("text.cls_emb had no gradient yet but its step count is %d", got)
				}
				if got := st.ParamSteps["visual.proj"]; got != 2 {
					t.Errorf("visual.proj step count %d, want 2", got)
				}
				if viaFile {
					path := filepath.Join(t.TempDir(), "optim.safetensors")
					if err := st.WriteFile(path); err != nil {
						t.Fatal(err)
					}
					var err error
					if st, err = ReadStateFile(path); err != nil {
						t.Fatal(err)
					}
				}
				resumed := refParams(t, f)
				for i, p := range resumed {
					p.CopyFrom(ps[i].Data())
				}
				o2 := mustOpt(t, c.make, resumed)
				if err := o2.LoadState(st); err != nil {
					t.Fatal(err)
				}
				if got := o2.State().Steps; got != 2 {
					t.Errorf("loaded Steps = %d, want 2", got)
				}
				for s := 2; s < refSteps; s++ {
					loadGrads(t, f, resumed, s)
					o2.Step(lr(s))
				}
				for i, p := range resumed {
					for j, v := range p.Data() {
						if math.Float32bits(v) != math.Float32bits(ref[i].Data()[j]) {
							t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", p.Name(), j, v, ref[i].Data()[j])
						}
					}
				}
				// and the states agree too
				a, b := o.State(), o2.State()
				for k, v := range a.Tensors {
					if !slices.Equal(v.Data, b.Tensors[k].Data) {
						t.Errorf("state %s differs after resume", k)
					}
				}
				if !mapsEqual(a.ParamSteps, b.ParamSteps) || a.Steps != b.Steps {
					t.Errorf("step counts differ: %v %d vs %v %d", a.ParamSteps, a.Steps, b.ParamSteps, b.Steps)
				}
			})
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestStateSlots checks the slot names and shapes of each algorithm.
func TestStateSlots(t *testing.T) {
	w := tensor.NewParam("w", 2, 3, 4)
	b := tensor.NewParam("b", 4)
	ps := []*tensor.Tensor{w, b}
	want := map[string]map[string][]int{
		"adamw":     {"w.exp_avg": {2, 3, 4}, "w.exp_avg_sq": {2, 3, 4}, "b.exp_avg": {4}, "b.exp_avg_sq": {4}},
		"adafactor": {"w.exp_avg": {2, 3, 4}, "w.exp_avg_sq_row": {2, 3}, "w.exp_avg_sq_col": {2, 4}, "b.exp_avg": {4}, "b.exp_avg_sq": {4}},
		"sgd":       {"w.momentum_buffer": {2, 3, 4}, "b.momentum_buffer": {4}},
		"sgd_plain": {},
	}
	for _, c := range stateCases {
		exp, ok := want[c.name]
		if !ok {
			continue
		}
		st := mustOpt(t, c.make, ps).State()
		if len(st.Tensors) != len(exp) {
			t.Errorf("%s: %d state tensors, want %d", c.name, len(st.Tensors), len(exp))
		}
		for k, shape := range exp {
			got, ok := st.Tensors[k]
			if !ok || !slices.Equal(got.Shape, shape) || len(got.Data) != numelOf(shape) {
				t.Errorf("%s: tensor %s = %v (present %v), want shape %v", c.name, k, got.Shape, ok, shape)
			}
		}
	}
	// Adafactor without first moment keeps no exp_avg
	o, err := NewAdafactor(ps, AdafactorConfig{Beta2: 0.999, ClipThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.State().Tensors["w.exp_avg"]; ok {
		t.Error("Adafactor with Beta1 0 keeps exp_avg")
	}
}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// TestStateIsCopy checks that State and LoadState copy.
func TestStateIsCopy(t *testing.T) {
	p := paramWithGrad("w", []float32{1, 2}, 2)
	o, err := NewAdamW([]*tensor.Tensor{p}, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.1)
	st := o.State()
	before := slices.Clone(st.Tensors["w.exp_avg"].Data)
	st.Tensors["w.exp_avg"].Data[0] = 99
	if got := o.State().Tensors["w.exp_avg"].Data[0]; got != before[0] {
		t.Errorf("State shares memory with the optimizer: %v", got)
	}
	if err := o.LoadState(st); err != nil {
		t.Fatal(err)
	}
	st.Tensors["w.exp_avg"].Data[0] = 7
	if got := o.State().Tensors["w.exp_avg"].Data[0]; got != 99 {
		t.Errorf("LoadState did not copy: %v", got)
	}
}

// TestLoadStateErrors checks that mismatched states are rejected with an
// error naming the parameter, and leave the optimizer unchanged.
func TestLoadStateErrors(t *testing.T) {
	mk := func() (*AdamW, []*tensor.Tensor) {
		w := paramWithGrad("visual.proj", []float32{1, 2, 3, 4, 5, 6}, 2, 3)
		b := paramWithGrad("visual.ln_post.bias", []float32{1, -1}, 2)
		ps := []*tensor.Tensor{w, b}
		o, err := NewAdamW(ps, DefaultAdamWConfig())
		if err != nil {
			t.Fatal(err)
		}
		o.Step(0.1)
		return o, ps
	}
	good, _ := mk()
	cases := []struct {
		name   string
		edit   func(s *State)
		substr string
	}{
		{"algorithm", func(s *State) { s.Algorithm = "sgd" }, `"sgd"`},
		{"missing steps", func(s *State) { delete(s.ParamSteps, "visual.proj") }, `"visual.proj"`},
		{"negative step", func(s *State) { s.ParamSteps["visual.proj"] = -1 }, `"visual.proj"`},
		{"negative Steps", func(s *State) { s.Steps = -3 }, "Steps"},
		{"missing tensor", func(s *State) { delete(s.Tensors, "visual.proj.exp_avg_sq") }, `"visual.proj.exp_avg_sq"`},
		{"transposed shape", func(s *State) {
			s.Tensors["visual.proj.exp_avg"] = StateTensor{Shape: []int{3, 2}, Data: make([]float32, 6)}
		}, `"visual.proj"`},
		{"short data", func(s *State) {
			s.Tensors["visual.ln_post.bias.exp_avg"] = StateTensor{Shape: []int{2}, Data: make([]float32, 1)}
		}, `"visual.ln_post.bias"`},
		{"unknown parameter", func(s *State) { s.ParamSteps["text.cls_emb"] = 1 }, `"text.cls_emb"`},
		{"unknown tensor", func(s *State) {
			s.Tensors["visual.proj.momentum_buffer"] = StateTensor{Shape: []int{2, 3}, Data: make([]float32, 6)}
		}, `"visual.proj.momentum_buffer"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _ := mk()
			before := o.State()
			st := good.State()
			// make the loaded state distinguishable from o's own
			st.Steps = 5
			st.Tensors["visual.proj.exp_avg"].Data[0] = 42
			c.edit(&st)
			err := o.LoadState(st)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, errState) || !strings.Contains(err.Error(), c.substr) {
				t.Errorf("error %q does not wrap errState or name %s", err, c.substr)
			}
			after := o.State()
			if after.Steps != before.Steps || after.Tensors["visual.proj.exp_avg"].Data[0] != before.Tensors["visual.proj.exp_avg"].Data[0] {
				t.Error("a rejected state changed the optimizer")
			}
		})
	}
	// Adafactor: a factored state for a parameter of another shape
	a := tensor.NewParam("w", 4, 6)
	oa, err := NewAdafactor([]*tensor.Tensor{a}, DefaultAdafactorConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := tensor.NewParam("w", 6, 4)
	ob, err := NewAdafactor([]*tensor.Tensor{b}, DefaultAdafactorConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.LoadState(oa.State()); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("Adafactor state of a [4 6] parameter loaded into [6 4]: %v", err)
	}
}

func TestStateFileErrors(t *testing.T) {
	if _, err := ReadStateFile(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil {
		t.Error("missing file accepted")
	}
	_, err := ReadStateFile(refFile)
	if err == nil || !strings.Contains(err.Error(), refFile) || !strings.Contains(err.Error(), "format") {
		t.Errorf("non-state file: error %v should name the file and the field", err)
	}
	bad := State{Algorithm: "adamw", ParamSteps: map[string]int{}, Tensors: map[string]StateTensor{
		"w.exp_avg": {Shape: []int{2, 2}, Data: make([]float32, 3)},
	}}
	err = bad.WriteFile(filepath.Join(t.TempDir(), "bad.safetensors"))
	if err == nil || !strings.Contains(err.Error(), "w.exp_avg") {
		t.Errorf("inconsistent tensor written: %v", err)
	}
}

// TestNilGradSkipped checks that a parameter without gradient keeps its
// value, state and step count.
func TestNilGradSkipped(t *testing.T) {
	for _, c := range stateCases {
		w := paramWithGrad("w", []float32{1, -2, 3}, 3)
		frozen := tensor.NewParam("frozen", 2, 2)
		copy(frozen.Data(), []float32{1, 2, 3, 4})
		o := mustOpt(t, c.make, []*tensor.Tensor{w, frozen})
		o.Step(0.5)
		o.Step(0.5)
		if !slices.Equal(frozen.Data(), []float32{1, 2, 3, 4}) {
			t.Errorf("%s: parameter without gradient changed: %v", c.name, frozen.Data())
		}
		if w.Data()[0] == 0 && w.Data()[1] == 0 {
			t.Errorf("%s: parameter with gradient not updated", c.name)
		}
		st := o.State()
		if st.ParamSteps["frozen"] != 0 || st.ParamSteps["w"] != 2 {
			t.Errorf("%s: step counts %v", c.name, st.ParamSteps)
		}
		for k, v := range st.Tensors {
			if strings.HasPrefix(k, "frozen.") && slices.ContainsFunc(v.Data, func(x float32) bool { return x != 0 }) {
				t.Errorf("%s: state %s of a parameter without gradient changed", c.name, k)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	p := tensor.NewParam("w", 2)
	ps := []*tensor.Tensor{p}
	adam := func(edit func(*AdamWConfig)) error {
		c := DefaultAdamWConfig()
		edit(&c)
		_, err := NewAdamW(ps, c)
		return err
	}
	ada := func(edit func(*AdafactorConfig)) error {
		c := DefaultAdafactorConfig()
		edit(&c)
		_, err := NewAdafactor(ps, c)
		return err
	}
	sgd := func(c SGDConfig) error { _, err := NewSGD(ps, c); return err }
	cases := []struct {
		err   error
		field string
	}{
		{adam(func(c *AdamWConfig) { c.Beta1 = 1 }), "Beta1"},
		{adam(func(c *AdamWConfig) { c.Beta2 = -0.1 }), "Beta2"},
		{adam(func(c *AdamWConfig) { c.Eps = math.NaN() }), "Eps"},
		{adam(func(c *AdamWConfig) { c.WeightDecay = -1 }), "WeightDecay"},
		{ada(func(c *AdafactorConfig) { c.Beta1 = 1.5 }), "Beta1"},
		{ada(func(c *AdafactorConfig) { c.DecayRate = 0.8 }), "DecayRate"},
		{ada(func(c *AdafactorConfig) { c.Beta2 = 0 }), "DecayRate"},
		{ada(func(c *AdafactorConfig) { c.ClipThreshold = 0 }), "ClipThreshold"},
		{ada(func(c *AdafactorConfig) { c.Eps1 = -1 }), "Eps1"},
		{sgd(SGDConfig{Momentum: -1}), "Momentum"},
		{sgd(SGDConfig{Nesterov: true}), "Nesterov"},
		{sgd(SGDConfig{Momentum: 0.9, Dampening: 0.1, Nesterov: true}), "Nesterov"},
		{sgd(SGDConfig{WeightDecay: math.Inf(1)}), "WeightDecay"},
	}
	for i, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.field) {
			t.Errorf("case %d: error %v should name %s", i, c.err, c.field)
		}
	}
	// parameter lists
	dup := []*tensor.Tensor{tensor.NewParam("w", 2), tensor.NewParam("w", 3)}
	if _, err := NewAdamW(dup, DefaultAdamWConfig()); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("duplicate names: %v", err)
	}
	unnamed := []*tensor.Tensor{tensor.New(2)}
	if _, err := NewSGD(unnamed, SGDConfig{}); err == nil || !strings.Contains(err.Error(), "no name") {
		t.Errorf("unnamed parameter: %v", err)
	}
	if _, err := NewAdafactor([]*tensor.Tensor{nil}, DefaultAdafactorConfig()); err == nil {
		t.Error("nil parameter accepted")
	}
}

// TestParallelMatchesSerial checks that the parallel path gives the serial
// path's results bit for bit (the work split does not depend on the number
// of goroutines, and no reduction crosses work items).
func TestParallelMatchesSerial(t *testing.T) {
	run := func(t *testing.T, newOpt func([]*tensor.Tensor) (Optimizer, error)) []*tensor.Tensor {
		ps := benchParams(24, 2)
		o := mustOpt(t, newOpt, ps)
		for s := range 3 {
			o.Step(1e-2 / float64(s+1))
		}
		return ps
	}
	for _, c := range stateCases {
		t.Run(c.name, func(t *testing.T) {
			serial := run(t, c.make)
			forceParallel(t)
			parallel := run(t, c.make)
			for i, p := range parallel {
				for j, v := range p.Data() {
					if math.Float32bits(v) != math.Float32bits(serial[i].Data()[j]) {
						t.Fatalf("%s[%d]: parallel %v, serial %v", p.Name(), j, v, serial[i].Data()[j])
					}
				}
			}
		})
	}
}
