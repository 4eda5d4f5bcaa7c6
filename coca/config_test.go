package coca

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tinyConfigJSON is golden/testdata/tiny/config.json, open_clip's tiny
// fixture config.
func tinyConfigJSON(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../golden/testdata/tiny/config.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tinyBuilt is the model open_clip builds from tinyConfigJSON.
func tinyBuilt() Config {
	return Config{EmbedDim: 32,
		Vision: VisionConfig{ImageSize: 32, PatchSize: 8, Width: 48, Layers: 2, HeadWidth: 12, MLPRatio: 4,
			AttentionalPool: PoolLegacy, AttnPoolerQueries: 9, AttnPoolerHeads: 4},
		Text:       TextConfig{ContextLength: 12, VocabSize: 64, Width: 32, Heads: 4, Layers: 2, MLPRatio: 4},
		Multimodal: MultimodalConfig{ContextLength: 12, VocabSize: 64, Width: 32, Heads: 4, Layers: 2, MLPRatio: 4},
	}
}

// TestConfigQuirks checks that a config builds what open_clip 2.29 builds
// from it, not what its keys' names suggest: open_clip's
// _build_text_decoder_tower passes neither multimodal_cfg.mlp_ratio nor
// vocab_size (the decoder's MLPs have ratio 4, its projection text_cfg's
// vocabulary), VisionTransformer makes floor(width/head_width) heads, the
// text tower ignores pool_type (the CLS token is pooled) and
// final_ln_after_pool, sizes may be [h, w], and the top-level pad_id is
// CoCa's own (generate()'s pad), apart from text_cfg.pad_id.
func TestConfigQuirks(t *testing.T) {
	base := tinyConfigJSON(t)
	for _, c := range []struct {
		name     string
		old, new string
		change   func(*Config)
	}{
		{"unchanged", "", "", func(*Config) {}},
		{"multimodal mlp_ratio and vocab_size ignored", `"attn_pooler_heads": 4
  }`, `"attn_pooler_heads": 4, "mlp_ratio": 2.5, "vocab_size": 1000, "n_queries": 3, "dim_head": 7,
    "proj_bias": true, "norm_kwargs": {"eps": 1e-6}
  }`, func(*Config) {}},
		{"heads = floor(width/head_width)", `"head_width": 12`, `"head_width": 10`, func(c *Config) { c.Vision.HeadWidth = 10 }},
		{"[h, w] image size", `"image_size": 32`, `"image_size": [32, 32]`, func(*Config) {}},
		{"text pool_type and final_ln_after_pool ignored", `"embed_cls": true`, `"embed_cls": true, "pool_type": "argmax", "final_ln_after_pool": true`, func(*Config) {}},
		{"vision final_ln_after_pool ignored with a pooler", `"head_width": 12`, `"head_width": 12, "final_ln_after_pool": true, "pool_type": "tok"`, func(*Config) {}},
		{"top-level pad_id", `"custom_text": true`, `"custom_text": true, "pad_id": 3`, func(c *Config) { c.PadID = 3 }},
	} {
		s := strings.Replace(base, c.old, c.new, 1)
		if c.old != "" && s == base {
			t.Fatalf("%s: test setup: %q not in the config", c.name, c.old)
		}
		got, err := ParseConfig([]byte(s), "q.json")
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := tinyBuilt()
		c.change(&want)
		if d := cmp.Diff(want, *got); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
		// What is built is what is written: the JSON reloads to the same model.
		again, err := ParseConfig(got.JSON(), "again.json")
		if err != nil {
			t.Fatalf("%s: reloading JSON(): %v", c.name, err)
		}
		if d := cmp.Diff(got, again); d != "" {
			t.Errorf("%s: JSON() reloads differently (-first +reloaded):\n%s", c.name, d)
		}
	}
	if got := tinyBuilt(); got.VisionHeads() != 4 {
		t.Fatalf("tiny vision heads %d", got.VisionHeads())
	}
	c := tinyBuilt()
	c.Vision.HeadWidth = 10
	if c.VisionHeads() != 4 {
		t.Fatalf("width 48, head_width 10: %d heads, open_clip makes 4", c.VisionHeads())
	}
	// Values open_clip would build differently from us are refused by name.
	for _, bad := range []struct{ old, new, want string }{
		{`"head_width": 12`, `"head_width": 60`, "vision_cfg.head_width"},
		{`"embed_cls": true`, `"embed_cls": true, "proj_type": "none"`, "text_cfg.proj_type"},
		{`"head_width": 12`, `"head_width": 12, "pool_type": "avg"`, "vision_cfg.pool_type"},
		{`"head_width": 12`, `"head_width": 12, "norm_kwargs": {"eps": 1e-6}`, "vision_cfg.norm_kwargs"},
		{`"custom_text": true`, `"custom_text": true, "init_logit_bias": -10`, "init_logit_bias"},
		{`"image_size": 32`, `"image_size": [32, 40]`, "vision_cfg.image_size"},
		{`"layers": 2,
    "width": 48`, `"layers": [2, 2, 2, 2],
    "width": 48`, "vision_cfg.layers"},
	} {
		s := strings.Replace(base, bad.old, bad.new, 1)
		if s == base {
			t.Fatalf("test setup: %q not in the config", bad.old)
		}
		_, err := ParseConfig([]byte(s), "bad.json")
		switch {
		case err == nil:
			t.Errorf("%s: no error", bad.new)
		case !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "bad.json"):
			t.Errorf("%s: error %q does not name %q and the file", bad.new, err, bad.want)
		}
	}
	// Config values no open_clip JSON can describe are refused.
	c = tinyBuilt()
	c.Multimodal.MLPRatio = 2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mlp_ratio 4") {
		t.Errorf("multimodal MLP ratio 2: %v", err)
	}
	c = tinyBuilt()
	c.Multimodal.VocabSize = 65
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "text_cfg.vocab_size") {
		t.Errorf("decoder vocabulary 65 of 64: %v", err)
	}
}

// TestHubConfig reads a Hugging Face hub open_clip_config.json: the model
// config under model_cfg, preprocess_cfg with open_clip's keys (others
// dropped, as open_clip's merge_preprocess_dict does); normalisation other
// than CLIP's is refused by name.
func TestHubConfig(t *testing.T) {
	model := tinyConfigJSON(t)
	hub := `{"model_cfg": ` + model + `, "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
		"std": [0.26862954, 0.26130258, 0.27577711], "interpolation": "bicubic", "resize_mode": "shortest",
		"size": 32, "something_new": 1, "fill_color": null}}`
	got, err := ParseConfig([]byte(hub), "open_clip_config.json")
	if err != nil {
		t.Fatal(err)
	}
	want := tinyBuilt()
	want.Preprocess = &PreprocessConfig{Mean: clipMean, Std: clipStd, Interpolation: "bicubic", ResizeMode: "shortest"}
	if d := cmp.Diff(&want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "open_clip_config.json")
	if err := os.WriteFile(path, []byte(hub), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadConfig(path); err != nil || c.EmbedDim != 32 {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, bad := range []struct{ doc, want string }{
		{`{"model_cfg": ` + model + `, "preprocess_cfg": {"mean": [0.5, 0.5, 0.5]}}`, "preprocess_cfg.mean"},
		{`{"model_cfg": ` + model + `, "preprocess_cfg": {"resize_mode": "squash"}}`, "preprocess_cfg.resize_mode"},
		{`{"model_cfg": ` + model + `, "extra": 1}`, `"extra"`},
		{`{"model_cfg": ` + strings.Replace(model, `"patch_size"`, `"patch_sise"`, 1) + `}`, "model_cfg.vision_cfg.patch_sise"},
		{`{"model_cfg": 3}`, "model_cfg"},
	} {
		_, err := ParseConfig([]byte(bad.doc), "hub.json")
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "hub.json") {
			t.Errorf("%s: error %v, want one naming %s and the file", bad.want, err, bad.want)
		}
	}
}

// TestMultimodalMLPRatioCheckpoint loads the parallel_wide fixture, whose
// config says multimodal_cfg.mlp_ratio 1 while open_clip built (and wrote
// the weights of) ratio 4, and verifies it; its generate fixture, written
// by open_clip from that config, is TestVerifyGenerateFixtures'.
func TestMultimodalMLPRatioCheckpoint(t *testing.T) {
	dir := "../golden/testdata/parallel_wide"
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"mlp_ratio": 1.0
  }`)) {
		t.Fatalf("%s/config.json no longer sets multimodal_cfg.mlp_ratio 1", dir)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Multimodal.MLPRatio != 4 || cfg.Text.MLPRatio != 1 {
		t.Fatalf("mlp ratios: text %g, decoder %g; open_clip builds 1 and 4", cfg.Text.MLPRatio, cfg.Multimodal.MLPRatio)
	}
	var buf bytes.Buffer
	if fails, err := Verify(dir, &buf); err != nil || fails != 0 {
		t.Fatalf("%d fails, %v:\n%s", fails, err, failLines(buf.String()))
	}
}
