// Package coca is the CoCa model (Contrastive Captioners, Yu et al. 2022) as
// open_clip computes it, so that open_clip's published checkpoints load and
// give the same numbers: the vision tower with attentional poolers, the
// unimodal text tower with an appended CLS token, the multimodal decoder,
// the contrastive and captioning losses, and generation.
package coca

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Pooling modes of the vision tower.
const (
	PoolLegacy   = "legacy"   // attentional_pool: true — one pooler; pooled = out[:,0], tokens = out[:,1:]
	PoolParallel = "parallel" // two poolers over the same tokens (the paper)
	PoolCascade  = "cascade"  // the contrastive pooler reads the captioning pooler's output
)

// Config is open_clip's CoCa model config (the model-config JSON).
type Config struct {
	EmbedDim   int              // embed_dim: width of the contrastive features
	QuickGELU  bool             // quick_gelu (default false: exact erf GELU)
	Vision     VisionConfig     // vision_cfg
	Text       TextConfig       // text_cfg
	Multimodal MultimodalConfig // multimodal_cfg
}

// VisionConfig is vision_cfg.
type VisionConfig struct {
	ImageSize         int     // image_size (224)
	PatchSize         int     // patch_size (16)
	Width             int     // width (768)
	Layers            int     // layers (12)
	HeadWidth         int     // head_width (64); heads = Width/HeadWidth
	MLPRatio          float64 // mlp_ratio (4.0)
	AttentionalPool   string  // attentional_pool: true → "legacy", "parallel", "cascade"
	AttnPoolerQueries int     // attn_pooler_queries (256)
	AttnPoolerHeads   int     // attn_pooler_heads (8)
}

// TextConfig is text_cfg (the unimodal text decoder).
type TextConfig struct {
	ContextLength  int     // context_length (77; 76 for CoCa)
	VocabSize      int     // vocab_size (49408)
	Width          int     // width (512)
	Heads          int     // heads (8)
	Layers         int     // layers (12)
	MLPRatio       float64 // mlp_ratio (4.0)
	PadID          int     // pad_id (0)
	CorrectClsMask bool    // correct_cls_mask (false: open_clip's legacy CLS mask)
}

// MultimodalConfig is multimodal_cfg (the multimodal decoder).
type MultimodalConfig struct {
	ContextLength int     // context_length (77)
	VocabSize     int     // vocab_size (49408)
	Width         int     // width (512); must equal text width and embed_dim
	Heads         int     // heads (8)
	Layers        int     // layers (12)
	MLPRatio      float64 // mlp_ratio (4.0)
}

// VisionHeads returns the vision transformer's head count.
func (c *Config) VisionHeads() int { return c.Vision.Width / c.Vision.HeadWidth }

// Grid returns the number of patches per side.
func (c *Config) Grid() int { return c.Vision.ImageSize / c.Vision.PatchSize }

// ImageTokens returns how many image tokens the decoder cross-attends to.
func (c *Config) ImageTokens() int {
	if c.Vision.AttentionalPool == PoolLegacy {
		return c.Vision.AttnPoolerQueries - 1
	}
	return c.Vision.AttnPoolerQueries
}

func defaultConfig() Config {
	return Config{
		Vision: VisionConfig{ImageSize: 224, PatchSize: 16, Width: 768, Layers: 12, HeadWidth: 64, MLPRatio: 4,
			AttentionalPool: PoolLegacy, AttnPoolerQueries: 256, AttnPoolerHeads: 8},
		Text:       TextConfig{ContextLength: 77, VocabSize: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4},
		Multimodal: MultimodalConfig{ContextLength: 77, VocabSize: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4},
	}
}

// ParseConfig reads open_clip's model-config JSON. name is used in errors.
// Unknown keys and unsupported values are errors naming the key.
func ParseConfig(data []byte, name string) (*Config, error) {
	c := defaultConfig()
	top, err := objectOf(data, name, "")
	if err != nil {
		return nil, err
	}
	haveEmbed := false
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "embed_dim":
			err = decodeInt(v, &c.EmbedDim)
			haveEmbed = true
		case "quick_gelu":
			err = json.Unmarshal(v, &c.QuickGELU)
		case "custom_text", "cast_dtype":
			// custom_text: open_clip's switch for CoCa's text tower; cast_dtype: precision hint.
		case "init_logit_scale":
			err = expectNumber(v)
		case "vision_cfg":
			err = parseVision(v, name, &c.Vision)
		case "text_cfg":
			err = parseText(v, name, &c.Text)
		case "multimodal_cfg":
			err = parseMultimodal(v, name, &c.Multimodal)
		default:
			return nil, fmt.Errorf("coca: config %s: unknown key %q", name, k)
		}
		if err != nil {
			return nil, wrapKey(name, k, err)
		}
	}
	if !haveEmbed {
		return nil, fmt.Errorf("coca: config %s: missing key \"embed_dim\"", name)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("coca: config %s: %w", name, err)
	}
	return &c, nil
}

// LoadConfig reads a config JSON file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("coca: config: %w", err)
	}
	return ParseConfig(data, path)
}

func wrapKey(name, key string, err error) error {
	if strings.HasPrefix(err.Error(), "coca: config") {
		return err
	}
	return fmt.Errorf("coca: config %s: key %q: %v", name, key, err)
}

func objectOf(data []byte, name, section string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		where := "top level"
		if section != "" {
			where = section
		}
		return nil, fmt.Errorf("coca: config %s: %s: %v", name, where, err)
	}
	return m, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func decodeInt(v json.RawMessage, dst *int) error {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return err
	}
	if f != float64(int(f)) {
		return fmt.Errorf("%v is not an integer", f)
	}
	*dst = int(f)
	return nil
}

func expectNumber(v json.RawMessage) error {
	var f float64
	return json.Unmarshal(v, &f)
}

// expectDefault accepts a key open_clip knows whose only value we support
// is its default (given as JSON values, e.g. "null", "0", "false").
func expectDefault(v json.RawMessage, allowed ...string) error {
	s := strings.TrimSpace(string(v))
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return fmt.Errorf("unsupported value %s (supported: %s)", s, strings.Join(allowed, ", "))
}

func parseVision(data json.RawMessage, name string, v *VisionConfig) error {
	m, err := objectOf(data, name, "vision_cfg")
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch k {
		case "image_size":
			err = decodeInt(x, &v.ImageSize)
		case "patch_size":
			err = decodeInt(x, &v.PatchSize)
		case "width":
			err = decodeInt(x, &v.Width)
		case "layers":
			err = decodeInt(x, &v.Layers)
		case "head_width":
			err = decodeInt(x, &v.HeadWidth)
		case "mlp_ratio":
			err = json.Unmarshal(x, &v.MLPRatio)
		case "attn_pooler_queries":
			err = decodeInt(x, &v.AttnPoolerQueries)
		case "attn_pooler_heads":
			err = decodeInt(x, &v.AttnPoolerHeads)
		case "attentional_pool":
			var b bool
			if json.Unmarshal(x, &b) == nil {
				if !b {
					err = fmt.Errorf("unsupported value false (CoCa needs true, \"parallel\" or \"cascade\")")
				}
				v.AttentionalPool = PoolLegacy
				break
			}
			var s string
			if err = json.Unmarshal(x, &s); err == nil {
				if s != PoolParallel && s != PoolCascade {
					err = fmt.Errorf("unsupported value %q (want true, \"parallel\" or \"cascade\")", s)
				}
				v.AttentionalPool = s
			}
		case "output_tokens":
			err = expectDefault(x, "true", "false")
		case "ls_init_value":
			err = expectDefault(x, "null")
		case "patch_dropout":
			err = expectDefault(x, "0", "0.0")
		case "no_ln_pre", "final_ln_after_pool":
			err = expectDefault(x, "false")
		case "pos_embed_type":
			err = expectDefault(x, `"learnable"`)
		default:
			return fmt.Errorf("coca: config %s: unknown key \"vision_cfg.%s\"", name, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"vision_cfg.%s\": %v", name, k, err)
		}
	}
	return nil
}

func parseText(data json.RawMessage, name string, t *TextConfig) error {
	m, err := objectOf(data, name, "text_cfg")
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch k {
		case "context_length":
			err = decodeInt(x, &t.ContextLength)
		case "vocab_size":
			err = decodeInt(x, &t.VocabSize)
		case "width":
			err = decodeInt(x, &t.Width)
		case "heads":
			err = decodeInt(x, &t.Heads)
		case "layers":
			err = decodeInt(x, &t.Layers)
		case "mlp_ratio":
			err = json.Unmarshal(x, &t.MLPRatio)
		case "pad_id":
			err = decodeInt(x, &t.PadID)
		case "correct_cls_mask":
			err = json.Unmarshal(x, &t.CorrectClsMask)
		case "embed_cls":
			err = expectDefault(x, "true")
		case "output_tokens":
			err = expectDefault(x, "true", "false")
		case "ls_init_value":
			err = expectDefault(x, "null")
		case "no_causal_mask", "proj_bias":
			err = expectDefault(x, "false")
		default:
			return fmt.Errorf("coca: config %s: unknown key \"text_cfg.%s\"", name, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"text_cfg.%s\": %v", name, k, err)
		}
	}
	return nil
}

func parseMultimodal(data json.RawMessage, name string, t *MultimodalConfig) error {
	m, err := objectOf(data, name, "multimodal_cfg")
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch k {
		case "context_length":
			err = decodeInt(x, &t.ContextLength)
		case "vocab_size":
			err = decodeInt(x, &t.VocabSize)
		case "width":
			err = decodeInt(x, &t.Width)
		case "heads":
			err = decodeInt(x, &t.Heads)
		case "layers":
			err = decodeInt(x, &t.Layers)
		case "mlp_ratio":
			err = json.Unmarshal(x, &t.MLPRatio)
		case "attn_pooler_heads", "n_queries", "dim_head":
			// read by open_clip's MultimodalCfg but unused by CoCa's decoder
			err = expectNumber(x)
		case "ls_init_value":
			err = expectDefault(x, "null")
		default:
			return fmt.Errorf("coca: config %s: unknown key \"multimodal_cfg.%s\"", name, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"multimodal_cfg.%s\": %v", name, k, err)
		}
	}
	return nil
}

// Validate checks the sizes fit together.
func (c *Config) Validate() error {
	v, t, m := &c.Vision, &c.Text, &c.Multimodal
	pos := func(key string, x int) error {
		if x <= 0 {
			return fmt.Errorf("key %q: must be positive, got %d", key, x)
		}
		return nil
	}
	for _, chk := range []struct {
		k string
		x int
	}{{"embed_dim", c.EmbedDim}, {"vision_cfg.image_size", v.ImageSize}, {"vision_cfg.patch_size", v.PatchSize},
		{"vision_cfg.width", v.Width}, {"vision_cfg.layers", v.Layers}, {"vision_cfg.head_width", v.HeadWidth},
		{"vision_cfg.attn_pooler_queries", v.AttnPoolerQueries}, {"vision_cfg.attn_pooler_heads", v.AttnPoolerHeads},
		{"text_cfg.context_length", t.ContextLength}, {"text_cfg.vocab_size", t.VocabSize}, {"text_cfg.width", t.Width},
		{"text_cfg.heads", t.Heads}, {"text_cfg.layers", t.Layers},
		{"multimodal_cfg.context_length", m.ContextLength}, {"multimodal_cfg.vocab_size", m.VocabSize},
		{"multimodal_cfg.width", m.Width}, {"multimodal_cfg.heads", m.Heads}, {"multimodal_cfg.layers", m.Layers}} {
		if err := pos(chk.k, chk.x); err != nil {
			return err
		}
	}
	switch {
	case v.ImageSize%v.PatchSize != 0:
		return fmt.Errorf("key \"vision_cfg.image_size\": %d is not a multiple of patch_size %d", v.ImageSize, v.PatchSize)
	case v.Width%v.HeadWidth != 0:
		return fmt.Errorf("key \"vision_cfg.head_width\": width %d is not a multiple of head_width %d", v.Width, v.HeadWidth)
	case c.EmbedDim%v.AttnPoolerHeads != 0:
		return fmt.Errorf("key \"vision_cfg.attn_pooler_heads\": embed_dim %d is not a multiple of %d heads", c.EmbedDim, v.AttnPoolerHeads)
	case t.Width%t.Heads != 0:
		return fmt.Errorf("key \"text_cfg.heads\": width %d is not a multiple of %d heads", t.Width, t.Heads)
	case m.Width%m.Heads != 0:
		return fmt.Errorf("key \"multimodal_cfg.heads\": width %d is not a multiple of %d heads", m.Width, m.Heads)
	case m.Width != t.Width:
		return fmt.Errorf("key \"multimodal_cfg.width\": %d must equal text_cfg.width %d (the decoder reads the text tower's tokens)", m.Width, t.Width)
	case c.EmbedDim != m.Width:
		return fmt.Errorf("key \"embed_dim\": %d must equal multimodal_cfg.width %d (the decoder cross-attends to image tokens of width embed_dim)", c.EmbedDim, m.Width)
	case v.AttentionalPool != PoolLegacy && v.Width != c.EmbedDim:
		return fmt.Errorf("key \"vision_cfg.width\": %d must equal embed_dim %d with attentional_pool %q", v.Width, c.EmbedDim, v.AttentionalPool)
	case v.AttentionalPool == PoolLegacy && v.AttnPoolerQueries < 2:
		return fmt.Errorf("key \"vision_cfg.attn_pooler_queries\": legacy pooling needs at least 2 queries, got %d", v.AttnPoolerQueries)
	case v.MLPRatio <= 0 || t.MLPRatio <= 0 || m.MLPRatio <= 0:
		return fmt.Errorf("key \"mlp_ratio\": must be positive")
	case t.PadID < 0 || t.PadID >= t.VocabSize:
		return fmt.Errorf("key \"text_cfg.pad_id\": %d outside the vocabulary of %d", t.PadID, t.VocabSize)
	}
	return nil
}

// JSON writes the config in open_clip's format.
func (c *Config) JSON() []byte {
	pool := any(c.Vision.AttentionalPool)
	if c.Vision.AttentionalPool == PoolLegacy {
		pool = true
	}
	m := map[string]any{
		"embed_dim":  c.EmbedDim,
		"quick_gelu": c.QuickGELU,
		"vision_cfg": map[string]any{
			"image_size": c.Vision.ImageSize, "patch_size": c.Vision.PatchSize, "width": c.Vision.Width,
			"layers": c.Vision.Layers, "head_width": c.Vision.HeadWidth, "mlp_ratio": c.Vision.MLPRatio,
			"attentional_pool": pool, "attn_pooler_queries": c.Vision.AttnPoolerQueries,
			"attn_pooler_heads": c.Vision.AttnPoolerHeads, "output_tokens": true,
		},
		"text_cfg": map[string]any{
			"context_length": c.Text.ContextLength, "vocab_size": c.Text.VocabSize, "width": c.Text.Width,
			"heads": c.Text.Heads, "layers": c.Text.Layers, "mlp_ratio": c.Text.MLPRatio, "embed_cls": true,
			"output_tokens": true, "pad_id": c.Text.PadID, "correct_cls_mask": c.Text.CorrectClsMask,
		},
		"multimodal_cfg": map[string]any{
			"context_length": c.Multimodal.ContextLength, "vocab_size": c.Multimodal.VocabSize,
			"width": c.Multimodal.Width, "heads": c.Multimodal.Heads, "layers": c.Multimodal.Layers,
			"mlp_ratio": c.Multimodal.MLPRatio,
		},
		"custom_text": true,
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return b
}
