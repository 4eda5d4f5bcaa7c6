package coca

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gococa/gococa/tensor"
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

// RawTensorSource is a TensorSource that also hands out a tensor's stored
// bytes, which LoadBF16 converts to bfloat16 without a float32 copy.
type RawTensorSource interface {
	TensorSource
	// Raw returns a tensor's element type and its little-endian,
	// row-major bytes. The caller only reads them, and not after the
	// next call.
	Raw(name string) (safetensors.DType, []byte, error)
}

// SafetensorsSource returns f as a RawTensorSource. Raw hands out views of
// the file's mapping; each Raw or Float32 call drops the previous tensor's
// pages from the process's memory (safetensors.File.DontNeed), so that a
// load's peak memory does not include the whole file.
func SafetensorsSource(f *safetensors.File) RawTensorSource { return &safetensorsSource{f: f} }

type safetensorsSource struct {
	f    *safetensors.File
	prev string
}

func (s *safetensorsSource) Names() []string { return s.f.Names() }
func (s *safetensorsSource) Shape(name string) ([]int, bool) {
	i, ok := s.f.Info(name)
	return i.Shape, ok
}
func (s *safetensorsSource) Float32(name string) ([]float32, error) {
	s.next(name)
	return s.f.Float32(name)
}
func (s *safetensorsSource) Raw(name string) (safetensors.DType, []byte, error) {
	s.next(name)
	info, _ := s.f.Info(name)
	b, err := s.f.Raw(name)
	return info.DType, b, err
}

// next drops the previous tensor's pages before name is read.
func (s *safetensorsSource) next(name string) {
	if s.prev != "" {
		s.f.DontNeed(s.prev) // advice only: an error changes nothing
	}
	s.prev = name
}

// LoadSafetensors loads a checkpoint written under open_clip's names.
func (m *Model) LoadSafetensors(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("coca: load checkpoint: %w", err)
	}
	defer f.Close()
	return m.Load(SafetensorsSource(f), path)
}

// LoadSafetensorsBF16 is LoadBF16 from a safetensors file (mapped, read
// without a float32 copy of the bfloat16 matrices).
func (m *Model) LoadSafetensorsBF16(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("coca: load checkpoint: %w", err)
	}
	defer f.Close()
	return m.LoadBF16(SafetensorsSource(f), path)
}

// Load copies every parameter from src. Loading is strict: missing,
// unexpected and mis-shaped tensors are all listed in one error naming the
// file, and a tensor holding a NaN or an infinity is an error naming it
// (weights of a diverged run or a corrupt file, which would only ever
// compute NaN). logit_scale may be stored as a scalar or with shape [1]. A
// failed load leaves the model unchanged. A model with bfloat16 weights
// becomes a float32 one.
func (m *Model) Load(src TensorSource, file string) error {
	params := m.Params()
	if err := m.checkSource(src, file); err != nil {
		return err
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
		if err := checkFinite32(file, p.Name, v); err != nil {
			return err
		}
		vals[i] = v
	}
	m.dropBF16()
	for i, p := range params {
		p.Tensor.CopyFrom(vals[i])
	}
	return nil
}

// LoadBF16 loads src into a model with bfloat16 weights (see bf16.go): the
// model QuantizeBF16 makes of the float32 model Load makes, bit for bit,
// but read straight from the file's values: the matrices of both text
// stacks, the token embedding and the vocabulary projection are converted
// to bfloat16 from the stored bytes (a bfloat16 checkpoint's copied,
// float16 and float32 ones rounded once, to nearest even) when src is a
// RawTensorSource, so that no float32 copy of them is ever made; the other
// matrices are rounded and widened into their float32 tensors, and the
// remaining parameters widened exactly. Loading is as strict as Load's
// (non-finite values included) and a failed load leaves the model unchanged.
func (m *Model) LoadBF16(src TensorSource, file string) error {
	if err := m.checkSource(src, file); err != nil {
		return err
	}
	raw, _ := src.(RawTensorSource)
	read16 := func(name string, n int) ([]uint16, error) {
		out := make([]uint16, n)
		if raw != nil {
			dt, b, err := raw.Raw(name)
			if err == nil {
				err = safetensors.DecodeBF16(dt, b, out)
			}
			if err != nil {
				return nil, fmt.Errorf("coca: checkpoint %s: tensor %q: %w", file, name, err)
			}
			return out, checkFinite16(file, name, out)
		}
		v, err := src.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("coca: checkpoint %s: tensor %q: %w", file, name, err)
		}
		if len(v) != n {
			return nil, fmt.Errorf("coca: checkpoint %s: tensor %q has %d values, want %d", file, name, len(v), n)
		}
		if err := checkFinite32(file, name, v); err != nil {
			return nil, err
		}
		for i, x := range v {
			out[i] = safetensors.Float32ToBF16(x)
		}
		return out, nil
	}
	slots := map[*tensor.Tensor]bf16Slot{}
	for _, sl := range m.bf16Slots() {
		slots[sl.t] = sl
	}
	// Read everything before changing the model.
	type half struct {
		sl bf16Slot
		h  []uint16
	}
	var moved []half
	rounded := map[*tensor.Tensor][]uint16{}
	exact := map[*tensor.Tensor][]float32{}
	for _, p := range m.Params() {
		t, n := p.Tensor, p.Tensor.Numel()
		if sl, ok := slots[t]; ok {
			h, err := read16(p.Name, n)
			if err != nil {
				return err
			}
			if sl.transpose { // stored (C, R): the vocabulary projection
				r, c := t.Dim(0), t.Dim(1)
				tr := make([]uint16, n)
				for i := 0; i < r; i++ {
					for j := 0; j < c; j++ {
						tr[j*r+i] = h[i*c+j]
					}
				}
				h = tr
			}
			moved = append(moved, half{sl, h})
			continue
		}
		if t.Dims() >= 2 {
			h, err := read16(p.Name, n)
			if err != nil {
				return err
			}
			rounded[t] = h
			continue
		}
		v, err := src.Float32(p.Name)
		if err != nil {
			return fmt.Errorf("coca: checkpoint %s: tensor %q: %w", file, p.Name, err)
		}
		if len(v) != n {
			return fmt.Errorf("coca: checkpoint %s: tensor %q has %d values, want %d", file, p.Name, len(v), n)
		}
		if err := checkFinite32(file, p.Name, v); err != nil {
			return err
		}
		exact[t] = v
	}
	m.dropBF16()
	for _, mv := range moved {
		mv.sl.t.SetBF16(mv.h, mv.sl.transpose)
	}
	for t, h := range rounded {
		d := make([]float32, len(h))
		for i, v := range h {
			d[i] = safetensors.BF16ToFloat32(v)
		}
		t.CopyFrom(d) // one copy onto a device
	}
	for t, v := range exact {
		t.CopyFrom(v)
	}
	return nil
}

// checkFinite32 returns an error naming the tensor if v holds a NaN or an
// infinity.
func checkFinite32(file, name string, v []float32) error {
	for i, x := range v {
		if x-x != 0 { // NaN or ±Inf
			return nonFinite(file, name, len(v), i, float64(x), func(j int) bool { y := v[j]; return y-y != 0 })
		}
	}
	return nil
}

// checkFinite16 is checkFinite32 for bfloat16 values.
func checkFinite16(file, name string, h []uint16) error {
	for i, x := range h {
		if x&0x7f80 == 0x7f80 { // exponent all ones: NaN or ±Inf
			return nonFinite(file, name, len(h), i, float64(safetensors.BF16ToFloat32(x)), func(j int) bool { return h[j]&0x7f80 == 0x7f80 })
		}
	}
	return nil
}

func nonFinite(file, name string, n, first int, x float64, bad func(int) bool) error {
	count := 0
	for j := first; j < n; j++ {
		if bad(j) {
			count++
		}
	}
	return fmt.Errorf("coca: checkpoint %s: tensor %q: %d of %d values are not finite (the first, at index %d, is %v): the weights are corrupt or from a diverged run",
		file, name, count, n, first, x)
}

// checkSource lists every missing, unexpected and mis-shaped tensor of src
// in one error.
func (m *Model) checkSource(src TensorSource, file string) error {
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

// Tensors returns the parameters as safetensors entries: float32, except
// the matrices a model with bfloat16 weights holds only in bfloat16 (BF16);
// a model with int8 weights gives their values (q·scale) in float32.
func (m *Model) Tensors() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		switch p.Tensor.DType() {
		case tensor.BFloat16:
			ts = append(ts, bf16Tensor(p.Name, p.Tensor))
			continue
		case tensor.Int8:
			ts = append(ts, int8Tensor(p.Name, p.Tensor))
			continue
		}
		ts = append(ts, safetensors.F32(p.Name, p.Tensor.Shape(), tensor.HostValues(p.Tensor, nil))) // a copy from a device
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
