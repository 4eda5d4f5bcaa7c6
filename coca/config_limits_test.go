package coca

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gococa/gococa/internal/hostile"
)

// NumParams counts exactly what New allocates, for every built-in config
// under 300 M parameters (legacy and parallel pooling), a cascade variant
// and one with fractional mlp_ratio.
func TestNumParamsMatchesNew(t *testing.T) {
	var cfgs []*Config
	for _, name := range BuiltinNames() {
		c, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.NumParams(); err != nil || n > 3e8 {
			continue // New would reserve gigabytes
		}
		cfgs = append(cfgs, c)
	}
	tiny, _ := Builtin("coca_tiny")
	casc := *tiny
	casc.Vision.AttentionalPool, casc.Vision.Width, casc.Vision.HeadWidth = PoolCascade, casc.EmbedDim, 8
	frac := *tiny
	frac.Vision.MLPRatio, frac.Text.MLPRatio, frac.Multimodal.MLPRatio = 6144.0/1408, 5632.0/2048, 2.9
	cfgs = append(cfgs, &casc, &frac)
	if len(cfgs) < 6 {
		t.Fatalf("only %d configs compared", len(cfgs))
	}
	for _, c := range cfgs {
		got, err := c.NumParams()
		if err != nil {
			t.Fatal(err)
		}
		if want := New(c).NumParams(); got != int64(want) {
			t.Errorf("%+v: NumParams %d, New allocates %d", c.Vision, got, want)
		}
	}
}

// The configs of issue 16 (as a --config JSON and as a checkpoint's stored
// config) fail in ParseConfig, naming the key and the limit, before New
// could allocate anything.
func TestConfigLimits(t *testing.T) {
	want := map[string]string{
		"image_size": `key "vision_cfg.image_size": 1200000000 is outside 1..8192 (the limit)`,
		"mlp_ratio":  `key "vision_cfg.mlp_ratio": 1e+30 is outside (0, 64] (the limit)`,
		"vocab_size": `key "text_cfg.vocab_size": 2000000000 is outside 1..1048576 (the limit)`,
		"layers":     `key "vision_cfg.layers": 100000 is outside 1..256 (the limit)`,
	}
	for _, e := range hostile.ConfigEdits {
		_, err := ParseConfig(hostile.Config(e), "bad.json")
		if err == nil || !strings.HasPrefix(err.Error(), "coca: config bad.json: ") || !strings.Contains(err.Error(), want[e.Name]) {
			t.Errorf("%s: %v\nwant %q", e.Name, err, want[e.Name])
		}
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal([]byte(hostile.TinyConfig), &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	vis := func(m map[string]any) map[string]any { return m["vision_cfg"].(map[string]any) }
	for _, c := range []struct {
		name string
		json []byte
		want string // "" for a config that is accepted
	}{
		{"at the layer limit", edit(func(m map[string]any) { vis(m)["layers"] = MaxLayers }), ""},
		{"over the layer limit", edit(func(m map[string]any) { vis(m)["layers"] = MaxLayers + 1 }), "outside 1..256"},
		{"64x64 patches", edit(func(m map[string]any) { vis(m)["image_size"] = 512 }), ""},
		{"65x65 patches", edit(func(m map[string]any) { vis(m)["image_size"] = 520 }), "65×65 = 4225 patches, over the limit of 4096"},
		{"tiny mlp_ratio", edit(func(m map[string]any) { vis(m)["mlp_ratio"] = 0.01 }), "gives an MLP of 0 units at width 48"},
		{"too many parameters", edit(func(m map[string]any) {
			for _, s := range []string{"text_cfg", "multimodal_cfg"} {
				m[s].(map[string]any)["width"] = 8192
				m[s].(map[string]any)["layers"] = 60
			}
			m["embed_dim"] = 8192
			vis(m)["attn_pooler_heads"] = 8
		}), "parameters, over the limit of 5000000000 (MaxParameters)"},
	} {
		_, err := ParseConfig(c.json, "edit.json")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Sizes that are not positive, seen by NumParams directly.
	if _, err := (&Config{}).NumParams(); err == nil {
		t.Error("NumParams of a zero config: no error")
	}
}
