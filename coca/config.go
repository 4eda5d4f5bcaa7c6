package coca

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
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
	PadID      int              // pad_id (top level): CoCa's own pad id, generate()'s default pad token (0); the CLS mask reads text_cfg.pad_id
	Vision     VisionConfig     // vision_cfg
	Text       TextConfig       // text_cfg
	Multimodal MultimodalConfig // multimodal_cfg
	// Preprocess is preprocess_cfg of a Hugging Face hub
	// open_clip_config.json, or nil.
	Preprocess *PreprocessConfig
}

// PreprocessConfig is preprocess_cfg of open_clip_config.json: how images
// are prepared for the model. ParseConfig accepts only what the data
// package computes (CLIP's mean and std, bicubic resize of the shorter
// side, then the centre crop).
type PreprocessConfig struct {
	Mean, Std     [3]float64 // mean, std
	Interpolation string     // interpolation ("bicubic")
	ResizeMode    string     // resize_mode ("shortest")
}

// VisionConfig is vision_cfg.
type VisionConfig struct {
	ImageSize         int     // image_size (224)
	PatchSize         int     // patch_size (16)
	Width             int     // width (768)
	Layers            int     // layers (12)
	HeadWidth         int     // head_width (64); heads = floor(Width/HeadWidth), as open_clip computes them
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

// MultimodalConfig is multimodal_cfg (the multimodal decoder) as open_clip
// builds it: its _build_text_decoder_tower passes on context_length, width,
// heads, layers and ls_init_value only. The decoder's MLP ratio is always
// 4 and its vocabulary (the output projection's width) is text_cfg's,
// whatever multimodal_cfg's mlp_ratio and vocab_size say.
type MultimodalConfig struct {
	ContextLength int     // context_length (77): the decoder's causal mask, so the longest caption
	VocabSize     int     // text_cfg.vocab_size (multimodal_cfg.vocab_size is ignored, as by open_clip)
	Width         int     // width (512); must equal text width and embed_dim
	Heads         int     // heads (8)
	Layers        int     // layers (12)
	MLPRatio      float64 // always 4 (multimodal_cfg.mlp_ratio is ignored, as by open_clip)
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

// ParseConfig reads open_clip's model-config JSON, or a Hugging Face hub
// open_clip_config.json ({"model_cfg": {...}, "preprocess_cfg": {...}}).
// name is used in errors. The result is the model open_clip builds from
// that JSON, which is not always what a key's name suggests (see
// MultimodalConfig, VisionConfig.HeadWidth). Unknown keys and values that
// change the model in ways this package does not compute are errors
// naming the key.
func ParseConfig(data []byte, name string) (*Config, error) {
	top, err := objectOf(data, name, "")
	if err != nil {
		return nil, err
	}
	if mc, ok := top["model_cfg"]; ok {
		return parseHubConfig(top, mc, name)
	}
	return parseModelConfig(top, name, "")
}

// parseHubConfig reads open_clip_config.json: model_cfg is the model
// config, preprocess_cfg how images are prepared.
func parseHubConfig(top map[string]json.RawMessage, mc json.RawMessage, name string) (*Config, error) {
	for _, k := range sortedKeys(top) {
		if k != "model_cfg" && k != "preprocess_cfg" {
			return nil, fmt.Errorf("coca: config %s: unknown key %q (open_clip_config.json holds model_cfg and preprocess_cfg)", name, k)
		}
	}
	m, err := objectOf(mc, name, "model_cfg")
	if err != nil {
		return nil, err
	}
	c, err := parseModelConfig(m, name, "model_cfg.")
	if err != nil {
		return nil, err
	}
	if pc, ok := top["preprocess_cfg"]; ok {
		p, err := parsePreprocess(pc, name)
		if err != nil {
			return nil, err
		}
		c.Preprocess = p
	}
	return c, nil
}

// parseModelConfig reads the keys of a model config; prefix ("" or
// "model_cfg.") is prepended to key names in errors.
func parseModelConfig(top map[string]json.RawMessage, name, prefix string) (*Config, error) {
	c := defaultConfig()
	haveEmbed := false
	var err error
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch k {
		case "embed_dim":
			err = decodeInt(v, &c.EmbedDim)
			haveEmbed = true
		case "quick_gelu":
			err = json.Unmarshal(v, &c.QuickGELU)
		case "pad_id":
			err = decodeInt(v, &c.PadID)
		case "custom_text", "cast_dtype":
			// custom_text: open_clip's switch for CoCa's text tower; cast_dtype: precision hint.
		case "init_logit_scale":
			err = expectNumber(v)
		case "init_logit_bias":
			err = expectDefault(v, "null")
		case "vision_cfg":
			err = parseVision(v, name, prefix, &c.Vision)
		case "text_cfg":
			err = parseText(v, name, prefix, &c.Text)
		case "multimodal_cfg":
			err = parseMultimodal(v, name, prefix, &c.Multimodal)
		default:
			return nil, fmt.Errorf("coca: config %s: unknown key %q", name, prefix+k)
		}
		if err != nil {
			return nil, wrapKey(name, prefix+k, err)
		}
	}
	if !haveEmbed {
		return nil, fmt.Errorf("coca: config %s: missing key %q", name, prefix+"embed_dim")
	}
	// What open_clip builds: the decoder's projection has text_cfg's
	// vocabulary (CoCa passes it as the decoder's output_dim) and its MLPs
	// the default ratio 4 (_build_text_decoder_tower passes none).
	c.Multimodal.VocabSize = c.Text.VocabSize
	c.Multimodal.MLPRatio = 4
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("coca: config %s: %w", name, err)
	}
	return &c, nil
}

// parsePreprocess reads preprocess_cfg, accepting what data.Preprocess
// computes.
func parsePreprocess(data json.RawMessage, name string) (*PreprocessConfig, error) {
	m, err := objectOf(data, name, "preprocess_cfg")
	if err != nil {
		return nil, err
	}
	p := &PreprocessConfig{Mean: clipMean, Std: clipStd, Interpolation: "bicubic", ResizeMode: "shortest"}
	for _, k := range sortedKeys(m) {
		x := m[k]
		if strings.TrimSpace(string(x)) == "null" {
			continue // open_clip's merge_preprocess_dict skips None
		}
		switch k {
		case "mean", "std":
			var v []float64
			if err = json.Unmarshal(x, &v); err == nil && len(v) != 3 {
				err = fmt.Errorf("%d values, want 3", len(v))
			}
			if err == nil {
				want := clipMean
				if k == "std" {
					want = clipStd
				}
				for i := range v {
					if math.Abs(v[i]-want[i]) > 1e-6 {
						err = fmt.Errorf("%v: images are normalised with CLIP's %v only", v, want)
					}
				}
			}
		case "interpolation":
			err = expectDefault(x, `"bicubic"`)
		case "resize_mode":
			err = expectDefault(x, `"shortest"`)
		case "fill_color":
			err = expectDefault(x, "0")
		case "mode":
			err = expectDefault(x, `"RGB"`)
		case "size":
			var sz int
			err = decodeSize(x, &sz)
		default:
			// open_clip's merge_preprocess_dict drops keys it does not know.
		}
		if err != nil {
			return nil, fmt.Errorf("coca: config %s: key \"preprocess_cfg.%s\": %v", name, k, err)
		}
	}
	return p, nil
}

// CLIP's image normalisation (data.MeanR...), the only one accepted in
// preprocess_cfg.
var (
	clipMean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

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

func parseVision(data json.RawMessage, name, prefix string, v *VisionConfig) error {
	m, err := objectOf(data, name, prefix+"vision_cfg")
	if err != nil {
		return err
	}
	poolType := ""
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch k {
		case "image_size":
			err = decodeSize(x, &v.ImageSize)
		case "patch_size":
			err = decodeSize(x, &v.PatchSize)
		case "width":
			err = decodeInt(x, &v.Width)
		case "layers":
			if strings.HasPrefix(strings.TrimSpace(string(x)), "[") {
				err = fmt.Errorf("a list of stage depths builds a ModifiedResNet, not supported")
				break
			}
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
		case "pool_type":
			// With one attentional pooler (legacy) open_clip pools its
			// output with pool_type ("tok": the first token); the paper's
			// poolers ignore it. Any of open_clip's values is accepted
			// there, checked after the loop.
			err = json.Unmarshal(x, &poolType)
			if err == nil && poolType != "tok" && poolType != "avg" && poolType != "none" {
				err = fmt.Errorf("unsupported value %q (open_clip's are \"tok\", \"avg\", \"none\")", poolType)
			}
		case "output_tokens":
			err = expectDefault(x, "true", "false")
		case "final_ln_after_pool":
			// ignored by open_clip's VisionTransformer with an attentional pooler
			err = expectDefault(x, "true", "false")
		case "ls_init_value":
			err = expectDefault(x, "null")
		case "patch_dropout":
			err = expectDefault(x, "0", "0.0")
		case "no_ln_pre":
			err = expectDefault(x, "false")
		case "pos_embed_type":
			err = expectDefault(x, `"learnable"`)
		case "act_kwargs", "norm_kwargs":
			err = expectDefault(x, "null", "{}")
		case "timm_model_name":
			err = expectDefault(x, "null")
		case "timm_model_pretrained", "timm_pool", "timm_proj", "timm_proj_bias", "timm_drop", "timm_drop_path":
			// read only with timm_model_name
		default:
			return fmt.Errorf("coca: config %s: unknown key \"%svision_cfg.%s\"", name, prefix, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"%svision_cfg.%s\": %v", name, prefix, k, err)
		}
	}
	if v.AttentionalPool == PoolLegacy && poolType != "" && poolType != "tok" {
		return fmt.Errorf("coca: config %s: key \"%svision_cfg.pool_type\": %q with one attentional pooler is not supported (\"tok\" only)", name, prefix, poolType)
	}
	return nil
}

func parseText(data json.RawMessage, name, prefix string, t *TextConfig) error {
	m, err := objectOf(data, name, prefix+"text_cfg")
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
		case "proj_type":
			err = expectDefault(x, `"linear"`)
		case "pool_type":
			// the appended CLS token overrides it: open_clip always pools the last token
			err = expectDefault(x, `"first"`, `"last"`, `"argmax"`, `"none"`)
		case "final_ln_after_pool":
			// read by CLIPTextCfg, never passed to the text tower
			err = expectDefault(x, "true", "false")
		case "act_kwargs", "norm_kwargs":
			err = expectDefault(x, "null", "{}")
		case "hf_model_name", "hf_tokenizer_name":
			err = expectDefault(x, "null")
		case "hf_model_pretrained", "hf_proj_type", "hf_pooler_type", "tokenizer_kwargs":
			// read only with an HF text tower or tokenizer
		default:
			return fmt.Errorf("coca: config %s: unknown key \"%stext_cfg.%s\"", name, prefix, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"%stext_cfg.%s\": %v", name, prefix, k, err)
		}
	}
	return nil
}

// multimodalIgnored are the keys of open_clip's MultimodalCfg that
// _build_text_decoder_tower never reads: any value builds the same decoder.
var multimodalIgnored = map[string]bool{
	"mlp_ratio": true, "vocab_size": true, "attn_pooler_heads": true, "n_queries": true, "dim_head": true,
	"embed_cls": true, "pad_id": true, "no_causal_mask": true, "final_ln_after_pool": true, "pool_type": true,
	"proj_bias": true, "proj_type": true, "output_tokens": true, "act_kwargs": true, "norm_kwargs": true,
	"hf_model_name": true, "hf_tokenizer_name": true, "hf_model_pretrained": true, "hf_proj_type": true,
	"hf_pooler_type": true, "tokenizer_kwargs": true, "correct_cls_mask": true,
}

func parseMultimodal(data json.RawMessage, name, prefix string, t *MultimodalConfig) error {
	m, err := objectOf(data, name, prefix+"multimodal_cfg")
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch {
		case k == "context_length":
			err = decodeInt(x, &t.ContextLength)
		case k == "width":
			err = decodeInt(x, &t.Width)
		case k == "heads":
			err = decodeInt(x, &t.Heads)
		case k == "layers":
			err = decodeInt(x, &t.Layers)
		case k == "ls_init_value":
			err = expectDefault(x, "null")
		case multimodalIgnored[k]:
			err = expectJSON(x)
		default:
			return fmt.Errorf("coca: config %s: unknown key \"%smultimodal_cfg.%s\"", name, prefix, k)
		}
		if err != nil {
			return fmt.Errorf("coca: config %s: key \"%smultimodal_cfg.%s\": %v", name, prefix, k, err)
		}
	}
	return nil
}

// decodeSize reads an image or patch size: an integer, or open_clip's
// [height, width] with both equal (square images only).
func decodeSize(v json.RawMessage, dst *int) error {
	if !strings.HasPrefix(strings.TrimSpace(string(v)), "[") {
		return decodeInt(v, dst)
	}
	var hw []json.RawMessage
	if err := json.Unmarshal(v, &hw); err != nil {
		return err
	}
	if len(hw) != 2 {
		return fmt.Errorf("%d values, want an integer or [height, width]", len(hw))
	}
	var h, w int
	if err := decodeInt(hw[0], &h); err != nil {
		return err
	}
	if err := decodeInt(hw[1], &w); err != nil {
		return err
	}
	if h != w {
		return fmt.Errorf("[%d, %d]: only square sizes are supported", h, w)
	}
	*dst = h
	return nil
}

// expectJSON accepts any JSON value (a key whose value changes nothing).
func expectJSON(v json.RawMessage) error {
	var x any
	return json.Unmarshal(v, &x)
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
	case v.Width < v.HeadWidth:
		return fmt.Errorf("key \"vision_cfg.head_width\": %d is wider than width %d (no head)", v.HeadWidth, v.Width)
	case v.Width%c.VisionHeads() != 0:
		// open_clip makes floor(width/head_width) heads, which must divide the width
		return fmt.Errorf("key \"vision_cfg.head_width\": width %d is not a multiple of its %d heads (floor(width/head_width))", v.Width, c.VisionHeads())
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
	case v.MLPRatio <= 0 || t.MLPRatio <= 0:
		return fmt.Errorf("key \"mlp_ratio\": must be positive")
	case m.MLPRatio != 4:
		return fmt.Errorf("multimodal decoder MLP ratio %g: open_clip builds the multimodal decoder with mlp_ratio 4 whatever multimodal_cfg says, so no other ratio can be saved and reloaded", m.MLPRatio)
	case m.VocabSize != t.VocabSize:
		return fmt.Errorf("multimodal decoder vocabulary %d: open_clip builds the decoder's projection with text_cfg.vocab_size %d", m.VocabSize, t.VocabSize)
	case c.PadID < 0 || c.PadID >= t.VocabSize:
		return fmt.Errorf("key \"pad_id\": %d outside the vocabulary of %d", c.PadID, t.VocabSize)
	case t.PadID < 0 || t.PadID >= t.VocabSize:
		return fmt.Errorf("key \"text_cfg.pad_id\": %d outside the vocabulary of %d", t.PadID, t.VocabSize)
	}
	return c.checkLimits() // config_limits.go: upper bounds, before anything is allocated
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
	if c.PadID != 0 {
		m["pad_id"] = c.PadID
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return b
}
