package coca

import (
	"strings"
	"testing"

	"github.com/gococa/gococa/internal/hostile"
)

// FuzzConfig parses arbitrary model configs (a --config JSON, or the
// coca_config a checkpoint stores): no input may panic; a config that
// parses is within the limits, round-trips through JSON, and (when small)
// builds a model with the parameter count NumParams gives.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(hostile.TinyConfig)) // and testdata/fuzz/FuzzConfig/hostile-*: issue 16's configs
	for _, name := range []string{"coca_tiny", "coca_ViT-B-32", "CoCa"} {
		c, _ := Builtin(name)
		f.Add(c.JSON())
	}
	f.Add([]byte(`{"embed_dim": 8, "vision_cfg": {"image_size": 8, "patch_size": 4, "width": 8, "head_width": 2, "layers": 1,
		"attentional_pool": "cascade", "attn_pooler_queries": 1, "attn_pooler_heads": 2, "mlp_ratio": 0.125},
		"text_cfg": {"width": 8, "heads": 2, "layers": 1, "vocab_size": 3, "context_length": 1, "pad_id": 2},
		"multimodal_cfg": {"width": 8, "heads": 8, "layers": 1, "vocab_size": 5, "context_length": 1, "mlp_ratio": 63.9}}`))
	// A Hugging Face hub open_clip_config.json.
	f.Add([]byte(`{"model_cfg": ` + hostile.TinyConfig + `, "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
		"std": [0.26862954, 0.26130258, 0.27577711], "interpolation": "bicubic", "resize_mode": "shortest"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "coca: config fuzz.json") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		n, err := c.NumParams()
		if err != nil || n < 1 || n > MaxParameters {
			t.Fatalf("NumParams %d, %v", n, err)
		}
		again, err := ParseConfig(c.JSON(), "again.json")
		if err != nil {
			t.Fatalf("re-parse of JSON(): %v", err)
		}
		want := *c
		want.Preprocess = nil // JSON() writes the model config only
		if *again != want {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", want, *again)
		}
		if n <= 200_000 {
			if got := New(c).NumParams(); int64(got) != n {
				t.Fatalf("New allocates %d parameters, NumParams says %d", got, n)
			}
		}
	})
}
