// Package golden loads the reference fixtures under golden/testdata and
// compares computed tensors with them.
//
// A model fixture is a directory holding config.json (an open_clip model
// config), weights.safetensors (the state_dict under open_clip's names) and
// io.safetensors (inputs "input.*", outputs "output.*", losses "loss.*" and
// gradients "grad.<param>" of one training step); golden/README.md describes
// them and the PyTorch scripts that write them. Compare checks one tensor
// against a Tolerance and returns a Diff; a Report collects Diffs and prints
// per-tensor max |diff|, relative errors and the first mismatches.
package golden

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/gococa/gococa/tensor/safetensors"
)

// RerunFixtures is the command that regenerates the model fixtures.
const RerunFixtures = "sh golden/pytorch/make_fixtures.sh (Debian /usr/bin/python3 with python3-torch)"

// Fixture is one model fixture directory.
type Fixture struct {
	Dir        string
	ConfigJSON []byte
	Weights    *safetensors.File
	IO         *safetensors.File
}

// LoadFixture opens dir/config.json, dir/weights.safetensors and
// dir/io.safetensors.
func LoadFixture(dir string) (*Fixture, error) {
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := readFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	if !json.Valid(cfg) {
		return nil, fmt.Errorf("golden: %s: invalid JSON", cfgPath)
	}
	w, err := safetensors.Open(filepath.Join(dir, "weights.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	io, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("golden: %w", err)
	}
	return &Fixture{Dir: dir, ConfigJSON: cfg, Weights: w, IO: io}, nil
}

// Close releases both safetensors files.
func (f *Fixture) Close() error {
	e1 := f.Weights.Close()
	e2 := f.IO.Close()
	if e1 != nil {
		return e1
	}
	return e2
}

// Float32 returns an io.safetensors tensor as float32 with its shape.
func (f *Fixture) Float32(name string) ([]float32, []int, error) {
	in, ok := f.IO.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("golden: %s: io.safetensors has no tensor %q", f.Dir, name)
	}
	v, err := f.IO.Float32(name)
	if err != nil {
		return nil, nil, fmt.Errorf("golden: %s: %w", f.Dir, err)
	}
	return v, in.Shape, nil
}

// Int64 returns an integer io.safetensors tensor (input.text, output.labels,
// output.greedy_tokens) with its shape.
func (f *Fixture) Int64(name string) ([]int64, []int, error) {
	in, ok := f.IO.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("golden: %s: io.safetensors has no tensor %q", f.Dir, name)
	}
	v, err := f.IO.Int64(name)
	if err != nil {
		return nil, nil, fmt.Errorf("golden: %s: %w", f.Dir, err)
	}
	return v, in.Shape, nil
}

// Names returns the io.safetensors names starting with prefix ("grad.",
// "output."), sorted.
func (f *Fixture) Names(prefix string) []string {
	var out []string
	for _, n := range f.IO.Names() {
		if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
			out = append(out, n)
		}
	}
	return out
}

// Check compares got (of shape gotShape) with the io.safetensors tensor name
// under tol, records the Diff in r (if r is not nil) and returns it. A missing
// reference tensor gives a failing Diff.
func (f *Fixture) Check(r *Report, name string, got []float32, gotShape []int, tol Tolerance) Diff {
	want, shape, err := f.Float32(name)
	var d Diff
	if err != nil {
		d = Diff{Name: name, Shape: gotShape, Tol: tol, Worst: Mismatch{Flat: -1}, Err: err.Error()}
	} else {
		d = CompareShapes(name, got, gotShape, want, shape, tol)
	}
	if r != nil {
		r.Add(d)
	}
	return d
}
