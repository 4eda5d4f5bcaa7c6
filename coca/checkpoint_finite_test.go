package coca

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/nn"
)

// A checkpoint holding a NaN or an infinity does not load: the error names
// the file, the tensor, how many values are not finite and the first, for
// float32 and bfloat16 loading (a decoder matrix read straight to bfloat16,
// a vector widened exactly), and the model is left unchanged.
func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	cfg, _ := Builtin("coca_tiny")
	dir := t.TempDir()
	find := func(m *Model, prefix string, dims int) nn.Param {
		for _, p := range m.Params() {
			if strings.HasPrefix(p.Name, prefix) && p.Tensor.Dims() == dims {
				return p
			}
		}
		t.Fatalf("no %d-d parameter %s*", dims, prefix)
		return nn.Param{}
	}
	for _, c := range []struct {
		prefix string
		dims   int
		poison func([]float32)
		want   string
	}{
		{"text_decoder.resblocks.", 2, func(d []float32) { d[3], d[7], d[8] = float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN()) },
			"3 of %d values are not finite (the first, at index 3, is NaN)"},
		{"visual.ln_post", 1, func(d []float32) { d[1] = float32(math.Inf(-1)) },
			"1 of %d values are not finite (the first, at index 1, is -Inf)"},
	} {
		m := New(cfg)
		m.Init(1)
		p := find(m, c.prefix, c.dims)
		c.poison(p.Tensor.Data())
		path := filepath.Join(dir, "bad.safetensors")
		if err := m.SaveSafetensors(path); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("coca: checkpoint %s: tensor %q: "+c.want, path, p.Name, p.Tensor.Numel())
		for _, weights := range []string{"f32", "bf16"} {
			fresh := New(cfg)
			fresh.Init(2)
			before := fresh.Params()[0].Tensor.Data()[0]
			load := fresh.LoadSafetensors
			if weights == "bf16" {
				load = fresh.LoadSafetensorsBF16
			}
			if err := load(path); err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s, %s: %v\nwant %s", p.Name, weights, err, want)
			}
			if fresh.Params()[0].Tensor.Data()[0] != before {
				t.Errorf("%s, %s: a failed load changed the model", p.Name, weights)
			}
		}
	}
}
