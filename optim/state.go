package optim

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// State is an optimizer's state for checkpoints and exact resume: with the
// parameters' values and the schedule's step, it is everything a later Step
// reads. Load it into an optimizer made over the same parameter names and
// shapes with the same configuration.
type State struct {
	// Algorithm is "adamw", "adafactor" or "sgd".
	Algorithm string
	// Steps counts the optimizer's Step calls.
	Steps int
	// ParamSteps counts, per parameter name, the steps that updated it
	// (a parameter without a gradient is not updated). Bias corrections and
	// the Adafactor β2 schedule read it; SGD reads it to know whether the
	// momentum buffer holds a value yet.
	ParamSteps map[string]int
	// Tensors holds the per-parameter buffers, keyed "<param name>.<slot>"
	// with the slots "exp_avg", "exp_avg_sq" (AdamW; Adafactor unfactored),
	// "exp_avg_sq_row", "exp_avg_sq_col" (Adafactor factored) and
	// "momentum_buffer" (SGD), as PyTorch's optimizer state names them.
	Tensors map[string]StateTensor
}

// StateTensor is one state buffer: a shape and its row-major values.
type StateTensor struct {
	Shape []int
	Data  []float32
}

// slot is one state buffer of one parameter.
type slot struct {
	name  string
	shape []int
	data  []float32
}

func newSlot(name string, shape ...int) slot {
	n := 1
	for _, d := range shape {
		n *= d
	}
	// In the current backend's memory, so that a device backend's update
	// kernels find the state where the parameters are.
	return slot{name: name, shape: shape, data: tensor.Alloc(n)}
}

// saveState deep-copies the parameters' steps and slots.
func saveState(algorithm string, steps int, ps []param, slots [][]slot) State {
	s := State{
		Algorithm:  algorithm,
		Steps:      steps,
		ParamSteps: make(map[string]int, len(ps)),
		Tensors:    make(map[string]StateTensor),
	}
	for i := range ps {
		s.ParamSteps[ps[i].name] = ps[i].step
		for _, sl := range slots[i] {
			s.Tensors[ps[i].name+"."+sl.name] = StateTensor{
				Shape: slices.Clone(sl.shape),
				Data:  hostCopy(sl.data),
			}
		}
	}
	return s
}

// loadState checks s against the parameters and slots, then copies it in.
// Nothing changes unless every check passes.
func loadState(algorithm string, s State, steps *int, ps []param, slots [][]slot) error {
	if s.Algorithm != algorithm {
		return fmt.Errorf("%w: algorithm %q, want %q", errState, s.Algorithm, algorithm)
	}
	if s.Steps < 0 {
		return fmt.Errorf("%w: Steps = %d is negative", errState, s.Steps)
	}
	want := 0
	for i := range ps {
		p := &ps[i]
		st, ok := s.ParamSteps[p.name]
		if !ok {
			return fmt.Errorf("%w: parameter %q has no step count", errState, p.name)
		}
		if st < 0 {
			return fmt.Errorf("%w: parameter %q: step count %d is negative", errState, p.name, st)
		}
		for _, sl := range slots[i] {
			key := p.name + "." + sl.name
			t, ok := s.Tensors[key]
			if !ok {
				return fmt.Errorf("%w: parameter %q (shape %v): tensor %q missing", errState, p.name, p.shape, key)
			}
			if !slices.Equal(t.Shape, sl.shape) {
				return fmt.Errorf("%w: parameter %q: tensor %q has shape %v, want %v", errState, p.name, key, t.Shape, sl.shape)
			}
			if len(t.Data) != len(sl.data) {
				return fmt.Errorf("%w: parameter %q: tensor %q of shape %v holds %d values, want %d", errState, p.name, key, t.Shape, len(t.Data), len(sl.data))
			}
			want++
		}
	}
	if len(s.ParamSteps) != len(ps) || len(s.Tensors) != want {
		known := make(map[string]bool, want+len(ps))
		for i := range ps {
			known[ps[i].name] = true
			for _, sl := range slots[i] {
				known[ps[i].name+"."+sl.name] = true
			}
		}
		for _, name := range sortedKeys(s.ParamSteps) {
			if !known[name] {
				return fmt.Errorf("%w: parameter %q is not one of the optimizer's parameters", errState, name)
			}
		}
		for _, key := range sortedKeys(s.Tensors) {
			if !known[key] {
				return fmt.Errorf("%w: tensor %q belongs to no parameter of the optimizer", errState, key)
			}
		}
	}
	for i := range ps {
		ps[i].step = s.ParamSteps[ps[i].name]
		for _, sl := range slots[i] {
			tensor.CopyIn(sl.data, s.Tensors[ps[i].name+"."+sl.name].Data) // one copy onto a device
		}
	}
	*steps = s.Steps
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Metadata keys of a state file.
const (
	metaFormat     = "format"
	metaAlgorithm  = "optim.algorithm"
	metaSteps      = "optim.steps"
	metaParamSteps = "optim.param_steps"
	formatName     = "gococa.optim.v1"
)

// WriteFile saves s to path as a safetensors file (float32 tensors named as
// in s.Tensors; algorithm and step counts in the metadata), atomically.
func (s State) WriteFile(path string) error {
	tensors := make([]safetensors.Tensor, 0, len(s.Tensors))
	for _, key := range sortedKeys(s.Tensors) {
		t := s.Tensors[key]
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("optim: writing %s: tensor %q of shape %v holds %d values", path, key, t.Shape, len(t.Data))
		}
		tensors = append(tensors, safetensors.F32(key, t.Shape, t.Data))
	}
	ps, err := json.Marshal(s.ParamSteps)
	if err != nil {
		return fmt.Errorf("optim: writing %s: %v", path, err)
	}
	meta := map[string]string{
		metaFormat:     formatName,
		metaAlgorithm:  s.Algorithm,
		metaSteps:      strconv.Itoa(s.Steps),
		metaParamSteps: string(ps),
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("optim: %w", err)
	}
	return nil
}

// ReadStateFile reads a state written by State.WriteFile. Its consistency
// with an optimizer is checked by LoadState.
func ReadStateFile(path string) (State, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return State{}, fmt.Errorf("optim: %w", err)
	}
	defer f.Close()
	meta := f.Metadata()
	if meta[metaFormat] != formatName {
		return State{}, fmt.Errorf("optim: %s: metadata %q is %q, want %q (not an optimizer state file)", path, metaFormat, meta[metaFormat], formatName)
	}
	s := State{Algorithm: meta[metaAlgorithm], Tensors: make(map[string]StateTensor, f.Len())}
	if s.Steps, err = strconv.Atoi(meta[metaSteps]); err != nil {
		return State{}, fmt.Errorf("optim: %s: metadata %q: %v", path, metaSteps, err)
	}
	if err := json.Unmarshal([]byte(meta[metaParamSteps]), &s.ParamSteps); err != nil {
		return State{}, fmt.Errorf("optim: %s: metadata %q: %v", path, metaParamSteps, err)
	}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if info.DType != safetensors.DTypeF32 {
			return State{}, fmt.Errorf("optim: %s: tensor %q has dtype %v, want F32", path, name, info.DType)
		}
		data, err := f.Float32(name)
		if err != nil {
			return State{}, fmt.Errorf("optim: %w", err)
		}
		s.Tensors[name] = StateTensor{Shape: slices.Clone(info.Shape), Data: data}
	}
	return s, nil
}

// hostCopy returns a copy of x in Go memory (one copy from a device).
func hostCopy(x []float32) []float32 {
	out := make([]float32, len(x))
	tensor.CopyOut(out, x)
	return out
}
