package coca

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// TestBuiltinParamNames checks coca_ViT-B-32 and coca_ViT-L-14 against the
// parameter names and shapes of open_clip's state_dict (listed by
// golden/pytorch/coca_ref.py, whose graph is checked against open_clip's
// own fixtures).
func TestBuiltinParamNames(t *testing.T) {
	for _, name := range []string{"coca_ViT-B-32", "coca_ViT-L-14"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("../golden/testdata", "param_shapes_"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want map[string][]int
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			cfg, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			m := New(cfg)
			got := map[string][]int{}
			total := 0
			for _, p := range m.Params() {
				got[p.Name] = p.Tensor.Shape()
				total += p.Tensor.Numel()
			}
			for n, s := range want {
				g, ok := got[n]
				if !ok {
					t.Errorf("missing %s %v", n, s)
				} else if !slices.Equal(g, s) {
					t.Errorf("%s: shape %v, open_clip %v", n, g, s)
				}
			}
			for n := range got {
				if _, ok := want[n]; !ok {
					t.Errorf("unexpected parameter %s", n)
				}
			}
			t.Logf("%s: %d tensors, %d parameters (%.2f M)", name, len(got), total, float64(total)/1e6)
			if name == "coca_ViT-B-32" && total != 253560065 {
				t.Errorf("coca_ViT-B-32 has %d parameters, want 253,560,065 (253.56 M)", total)
			}
		})
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	base, err := os.ReadFile("../golden/testdata/tiny/config.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		old, new, want string
	}{
		{`"patch_size"`, `"patch_sise"`, `vision_cfg.patch_sise`},
		{`"embed_dim"`, `"embed_dims"`, `embed_dims`},
		{`"heads": 4,
    "layers": 2,
    "embed_cls"`, `"heads": 4,
    "layerz": 2,
    "embed_cls"`, `text_cfg.layerz`},
		{`"attentional_pool": true`, `"attentional_pool": "sideways"`, `vision_cfg.attentional_pool`},
		{`"image_size": 32`, `"image_size": 33`, `vision_cfg.image_size`},
	}
	for _, c := range cases {
		s := strings.Replace(string(base), c.old, c.new, 1)
		if s == string(base) {
			t.Fatalf("test setup: %q not found in config", c.old)
		}
		_, err := ParseConfig([]byte(s), "bad.json")
		if err == nil {
			t.Errorf("%s: no error", c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("error %q does not name %q and the file", err, c.want)
		}
	}
}

func TestCheckpointStrictErrors(t *testing.T) {
	cfg, _ := Builtin("coca_tiny")
	m := New(cfg)
	m.Init(1)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := m.SaveSafetensors(good); err != nil {
		t.Fatal(err)
	}
	// Round trip.
	m2 := New(cfg)
	if err := m2.LoadSafetensors(good); err != nil {
		t.Fatal(err)
	}
	for i, p := range m2.Params() {
		if !equal(p.Tensor.Data(), m.Params()[i].Tensor.Data()) {
			t.Fatalf("%s differs after round trip", p.Name)
		}
	}
	// Missing tensor, wrong shape, unexpected tensor: all named in one error.
	var ts []safetensors.Tensor
	for _, x := range m.Tensors() {
		switch x.Name {
		case "visual.proj":
			continue // missing
		case "text.cls_emb":
			x = safetensors.F32(x.Name, []int{31}, make([]float32, 31))
		}
		ts = append(ts, x)
	}
	ts = append(ts, safetensors.F32("visual.extra", []int{2}, []float32{1, 2}))
	bad := filepath.Join(dir, "bad.safetensors")
	if err := safetensors.WriteFile(bad, ts, nil); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m2.Text.ClsEmb.Data()...)
	err := m2.LoadSafetensors(bad)
	if err == nil {
		t.Fatal("no error for a mismatched checkpoint")
	}
	for _, w := range []string{"bad.safetensors", "visual.proj", "text.cls_emb", "[31]", "visual.extra"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if !equal(before, m2.Text.ClsEmb.Data()) {
		t.Errorf("failed load changed the model")
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestInitTrainsOneStep checks that a freshly initialised model gives
// finite losses near their chance values and gradients for every parameter.
func TestInitTrainsOneStep(t *testing.T) {
	cfg, _ := Builtin("coca_tiny")
	m := New(cfg)
	m.Init(7)
	g := tensor.NewRNG(3)
	const b, l = 4, 8
	img := tensor.New(b, 3, 32, 32)
	g.Normal(img, 0, 1)
	text := make([]int, b*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	out := m.Forward(img, text, b, l)
	loss := m.Loss(out, text, b, l, DefaultLossWeights)
	con, capl := float64(loss.Contrastive.Item()), float64(loss.Caption.Item())/2
	if math.Abs(capl-math.Log(float64(cfg.Text.VocabSize))) > 1.0 {
		t.Errorf("caption loss at init %.3f, want about ln(V) = %.3f", capl, math.Log(float64(cfg.Text.VocabSize)))
	}
	if math.IsNaN(con) || con < 0 || con > 10 {
		t.Errorf("contrastive loss at init %.3f", con)
	}
	tensor.Backward(loss.Total)
	for _, p := range m.Params() {
		var s float64
		for _, v := range p.Tensor.Grad() {
			s += float64(v) * float64(v)
		}
		if p.Tensor.Grad() == nil || math.IsNaN(s) || (s == 0 && p.Name != "logit_scale") {
			t.Errorf("%s: gradient norm² %v", p.Name, s)
		}
	}
	tensor.Release(loss.Total)
}
