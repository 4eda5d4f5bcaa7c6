package coca

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gococa/gococa/tensor/safetensors"
)

// TensorSource is a checkpoint's tensors by name (a safetensors file, a
// PyTorch .bin read by tensor/torchfile, ...).
type TensorSource interface {
	// Names lists the tensors.
	Names() []string
	// Shape returns a tensor's shape.
	Shape(name string) ([]int, bool)
	// Float32 returns a tensor's values converted to float32.
	Float32(name string) ([]float32, error)
}

type safetensorsSource struct{ f *safetensors.File }

func (s safetensorsSource) Names() []string { return s.f.Names() }
func (s safetensorsSource) Shape(name string) ([]int, bool) {
	i, ok := s.f.Info(name)
	return i.Shape, ok
}
func (s safetensorsSource) Float32(name string) ([]float32, error) { return s.f.Float32(name) }

// LoadSafetensors loads a checkpoint written under open_clip's names.
func (m *Model) LoadSafetensors(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("coca: load checkpoint: %w", err)
	}
	defer f.Close()
	return m.Load(safetensorsSource{f}, path)
}

// Load copies every parameter from src. Loading is strict: missing,
// unexpected and mis-shaped tensors are all listed in one error naming the
// file. logit_scale may be stored as a scalar or with shape [1]. A failed
// load leaves the model unchanged.
func (m *Model) Load(src TensorSource, file string) error {
	params := m.Params()
	want := map[string]bool{}
	var missing, shapeErrs, unexpected []string
	for _, p := range params {
		want[p.Name] = true
		shape, ok := src.Shape(p.Name)
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !shapeMatches(p.Name, shape, p.Tensor.Shape()) {
			shapeErrs = append(shapeErrs, fmt.Sprintf("%s: checkpoint %v, model %v", p.Name, shape, p.Tensor.Shape()))
		}
	}
	for _, n := range src.Names() {
		if !want[n] {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing)+len(shapeErrs)+len(unexpected) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "coca: checkpoint %s does not match the model:", file)
		list := func(what string, xs []string) {
			if len(xs) == 0 {
				return
			}
			sort.Strings(xs)
			fmt.Fprintf(&b, "\n  %d %s: %s", len(xs), what, strings.Join(xs, "; "))
		}
		list("missing", missing)
		list("unexpected", unexpected)
		list("with the wrong shape", shapeErrs)
		return fmt.Errorf("%s", b.String())
	}
	vals := make([][]float32, len(params))
	for i, p := range params {
		v, err := src.Float32(p.Name)
		if err != nil {
			return fmt.Errorf("coca: checkpoint %s: tensor %q: %w", file, p.Name, err)
		}
		if len(v) != p.Tensor.Numel() {
			return fmt.Errorf("coca: checkpoint %s: tensor %q has %d values, want %d", file, p.Name, len(v), p.Tensor.Numel())
		}
		vals[i] = v
	}
	for i, p := range params {
		p.Tensor.CopyFrom(vals[i])
	}
	return nil
}

func shapeMatches(name string, got, want []int) bool {
	if name == "logit_scale" && len(want) == 0 {
		return len(got) == 0 || (len(got) == 1 && got[0] == 1)
	}
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// Tensors returns the parameters as safetensors entries (float32).
func (m *Model) Tensors() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32(p.Name, p.Tensor.Shape(), p.Tensor.Data()))
	}
	return ts
}

// SaveSafetensors writes the parameters under open_clip's names, with the
// config JSON in the metadata. The write is atomic: an existing file at path
// is replaced only once the new one is complete.
func (m *Model) SaveSafetensors(path string) error {
	meta := map[string]string{"format": "pt", "coca_config": string(m.Config.JSON())}
	if err := safetensors.WriteFile(path, m.Tensors(), meta); err != nil {
		return fmt.Errorf("coca: save checkpoint: %w", err)
	}
	return nil
}
