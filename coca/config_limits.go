package coca

import (
	"fmt"
	"math"
)

// Upper bounds of a config, checked by Validate (and so by ParseConfig,
// LoadConfig and a checkpoint's stored config) before anything is
// allocated: a config from a file can neither overflow a size nor make New
// allocate without end. Each is far above every open_clip CoCa config
// (coca_ViT-L-14: width 1024, 24 layers, 638 M parameters) and the paper's
// largest CoCa (the built-in "CoCa": 3.45 G parameters).
const (
	MaxWidth      = 8192    // every width, embed_dim and head_width
	MaxLayers     = 256     // layers of each tower
	MaxImageSize  = 8192    // vision_cfg.image_size
	MaxTokens     = 4096    // image patches ((image_size/patch_size)²), attn_pooler_queries, context_length
	MaxVocabSize  = 1 << 20 // vocab_size
	MaxMLPRatio   = 64      // mlp_ratio (and the MLP's hidden width is at least 1)
	MaxParameters = 5e9     // parameters in all (20 GB as float32)
)

// checkLimits checks the config's sizes against the upper bounds above and
// its parameter count, computed without overflow, against MaxParameters.
// Errors name the key and the limit.
func (c *Config) checkLimits() error {
	v, t, m := &c.Vision, &c.Text, &c.Multimodal
	for _, k := range []struct {
		key string
		x   int
		lim int
	}{
		{"embed_dim", c.EmbedDim, MaxWidth},
		{"vision_cfg.image_size", v.ImageSize, MaxImageSize},
		{"vision_cfg.patch_size", v.PatchSize, MaxImageSize},
		{"vision_cfg.width", v.Width, MaxWidth},
		{"vision_cfg.layers", v.Layers, MaxLayers},
		{"vision_cfg.head_width", v.HeadWidth, MaxWidth},
		{"vision_cfg.attn_pooler_queries", v.AttnPoolerQueries, MaxTokens},
		{"vision_cfg.attn_pooler_heads", v.AttnPoolerHeads, MaxWidth},
		{"text_cfg.context_length", t.ContextLength, MaxTokens},
		{"text_cfg.vocab_size", t.VocabSize, MaxVocabSize},
		{"text_cfg.width", t.Width, MaxWidth},
		{"text_cfg.heads", t.Heads, MaxWidth},
		{"text_cfg.layers", t.Layers, MaxLayers},
		{"multimodal_cfg.context_length", m.ContextLength, MaxTokens},
		{"multimodal_cfg.vocab_size", m.VocabSize, MaxVocabSize},
		{"multimodal_cfg.width", m.Width, MaxWidth},
		{"multimodal_cfg.heads", m.Heads, MaxWidth},
		{"multimodal_cfg.layers", m.Layers, MaxLayers},
	} {
		if k.x < 1 || k.x > k.lim {
			return fmt.Errorf("key %q: %d is outside 1..%d (the limit)", k.key, k.x, k.lim)
		}
	}
	for _, r := range []struct {
		key   string
		ratio float64
		width int
	}{{"vision_cfg.mlp_ratio", v.MLPRatio, v.Width}, {"text_cfg.mlp_ratio", t.MLPRatio, t.Width}, {"multimodal_cfg.mlp_ratio", m.MLPRatio, m.Width}} {
		if !(r.ratio > 0 && r.ratio <= MaxMLPRatio) {
			return fmt.Errorf("key %q: %g is outside (0, %d] (the limit)", r.key, r.ratio, MaxMLPRatio)
		}
		if h := int(float64(r.width) * r.ratio); h < 1 {
			return fmt.Errorf("key %q: %g gives an MLP of %d units at width %d (needs at least 1)", r.key, r.ratio, h, r.width)
		}
	}
	if g := v.ImageSize / v.PatchSize; g < 1 || g > MaxTokens/g {
		return fmt.Errorf("key \"vision_cfg.image_size\": %d/%d gives %d×%d = %d patches, over the limit of %d (MaxTokens)",
			v.ImageSize, v.PatchSize, g, g, g*g, MaxTokens)
	}
	n, err := c.NumParams()
	if err != nil {
		return err
	}
	if n > MaxParameters {
		return fmt.Errorf("the config has %d parameters, over the limit of %d (MaxParameters)", n, int64(MaxParameters))
	}
	return nil
}

// NumParams returns the number of parameter values New allocates for the
// config (what Model.NumParams returns, without building the model), or an
// error if a size is not positive or the count does not fit in 53 bits. It
// counts in float64, which is exact below 2^53 and cannot wrap around.
func (c *Config) NumParams() (int64, error) {
	v, t, m := &c.Vision, &c.Text, &c.Multimodal
	for _, x := range []int{c.EmbedDim, v.ImageSize, v.PatchSize, v.Width, v.Layers, v.AttnPoolerQueries,
		t.ContextLength, t.VocabSize, t.Width, t.Layers, m.VocabSize, m.Width, m.Layers} {
		if x < 1 {
			return 0, fmt.Errorf("the config has a size %d < 1", x)
		}
	}
	f := func(x int) float64 { return float64(x) }
	d := f(c.EmbedDim)
	ln := func(w float64) float64 { return 2 * w }
	mha := func(w, kv float64) float64 {
		n := 3*w + w*w + w // in_proj_bias, out_proj
		if kv == w {
			return n + 3*w*w
		}
		return n + w*w + 2*w*kv
	}
	block := func(w, ratio, kv float64) float64 {
		h := math.Floor(w * ratio) // int(width * mlp_ratio), as nn does
		n := 2*ln(w) + 2*w*h + h + w
		if kv > 0 {
			return n + ln(kv) + mha(w, kv)
		}
		return n + mha(w, w)
	}
	pooler := func(d, kv, queries float64) float64 { return queries*d + ln(d) + ln(kv) + mha(d, kv) }
	wv := f(v.Width)
	g := f(v.ImageSize / v.PatchSize)
	n := wv*3*f(v.PatchSize)*f(v.PatchSize) + wv + (g*g+1)*wv + ln(wv) + d*d
	n += f(v.Layers) * block(wv, v.MLPRatio, 0)
	if v.AttentionalPool == PoolLegacy {
		n += pooler(d, wv, f(v.AttnPoolerQueries)) + ln(d)
	} else {
		n += pooler(d, wv, f(v.AttnPoolerQueries)) + pooler(d, d, 1) + ln(wv)
	}
	wt := f(t.Width)
	n += f(t.VocabSize)*wt + f(t.ContextLength+1)*wt + wt + ln(wt) + wt*d
	n += f(t.Layers) * block(wt, t.MLPRatio, 0)
	wm := f(m.Width)
	n += f(m.Layers) * (block(wm, m.MLPRatio, 0) + block(wm, m.MLPRatio, d))
	n += ln(wm) + wm*f(m.VocabSize) + 1
	if !(n >= 0 && n < 1<<53) {
		return 0, fmt.Errorf("the config's parameter count %g is out of range", n)
	}
	return int64(n), nil
}
