package coca

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// shapeSig is what a checkpoint's tensor shapes show of its config. Head
// counts, QuickGELU, the pad id and the CLS mask leave no trace in the
// shapes; neither does the difference between parallel and cascade pooling.
type shapeSig struct {
	embed                             int
	vWidth, vPatch, vImage, vLayers   int
	vHidden, vQueries                 int
	vPool                             bool // two poolers (parallel or cascade)
	tContext, tVocab, tWidth, tLayers int
	tHidden                           int
	mWidth, mVocab, mLayers, mHidden  int
}

func (s shapeSig) String() string {
	pool := "legacy"
	if s.vPool {
		pool = "parallel or cascade"
	}
	return fmt.Sprintf("embed_dim %d; vision %d px in %d-px patches, width %d, %d layers, MLP %d, %d pooler queries (%s); text context %d, vocabulary %d, width %d, %d layers, MLP %d; decoder width %d, %d layers, MLP %d, vocabulary %d",
		s.embed, s.vImage, s.vPatch, s.vWidth, s.vLayers, s.vHidden, s.vQueries, pool,
		s.tContext, s.tVocab, s.tWidth, s.tLayers, s.tHidden, s.mWidth, s.mLayers, s.mHidden, s.mVocab)
}

// sigOf is the signature of a config.
func sigOf(c *Config) shapeSig {
	v, t, m := c.Vision, c.Text, c.Multimodal
	return shapeSig{
		embed:  c.EmbedDim,
		vWidth: v.Width, vPatch: v.PatchSize, vImage: c.Grid() * v.PatchSize, vLayers: v.Layers,
		vHidden: int(float64(v.Width) * v.MLPRatio), vQueries: v.AttnPoolerQueries, vPool: v.AttentionalPool != PoolLegacy,
		tContext: t.ContextLength, tVocab: t.VocabSize, tWidth: t.Width, tLayers: t.Layers, tHidden: int(float64(t.Width) * t.MLPRatio),
		mWidth: m.Width, mVocab: m.VocabSize, mLayers: m.Layers, mHidden: int(float64(m.Width) * m.MLPRatio),
	}
}

// sigFromShapes reads the signature of src.
func sigFromShapes(src TensorSource) (shapeSig, error) {
	var s shapeSig
	dim := func(name string, i int) (int, bool) {
		sh, ok := src.Shape(name)
		if !ok || i >= len(sh) {
			return 0, false
		}
		return sh[i], true
	}
	layers := func(prefix string) int {
		n := 0
		for _, name := range src.Names() {
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				continue
			}
			idx, _, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(idx); err == nil && i >= n && i < 1<<20 {
				n = i + 1
			}
		}
		return n
	}
	if _, ok := src.Shape("text_decoder.text_projection"); !ok {
		if _, clip := src.Shape("visual.proj"); clip {
			return s, errors.New("no multimodal decoder (text_decoder.*) among its tensors: a CLIP checkpoint, not a CoCa one?")
		}
		return s, errors.New("no tensor has an open_clip CoCa name (text_decoder.text_projection, visual.conv1.weight, ...)")
	}
	s.vWidth, _ = dim("visual.conv1.weight", 0)
	s.vPatch, _ = dim("visual.conv1.weight", 2)
	pos, ok := dim("visual.positional_embedding", 0)
	if g := int(math.Round(math.Sqrt(float64(pos - 1)))); ok && pos > 1 && g*g == pos-1 {
		s.vImage = g * s.vPatch
	}
	s.vLayers = layers("visual.transformer.resblocks.")
	s.vHidden, _ = dim("visual.transformer.resblocks.0.mlp.c_fc.weight", 0)
	s.vQueries, _ = dim("visual.attn_pool.query", 0)
	_, s.vPool = src.Shape("visual.attn_pool_contrastive.query")
	if pos, ok := dim("text.positional_embedding", 0); ok {
		s.tContext = pos - 1
	}
	s.tVocab, _ = dim("text.token_embedding.weight", 0)
	s.tWidth, _ = dim("text.token_embedding.weight", 1)
	s.tLayers = layers("text.transformer.resblocks.")
	s.tHidden, _ = dim("text.transformer.resblocks.0.mlp.c_fc.weight", 0)
	s.embed, _ = dim("text.text_projection", 1)
	s.mWidth, _ = dim("text_decoder.text_projection", 0)
	s.mVocab, _ = dim("text_decoder.text_projection", 1)
	s.mLayers = layers("text_decoder.resblocks.")
	s.mHidden, _ = dim("text_decoder.resblocks.0.mlp.c_fc.weight", 0)
	return s, nil
}

// DetectConfig names the built-in config of a checkpoint saved without
// one: the built-in whose signature (every size the tensor shapes show:
// widths, layer counts, MLP sizes, patch and image size, pooler queries,
// vocabularies, context length) matches src's. Head counts leave no trace
// in the shapes, so a checkpoint of another config is an error that lists
// what its shapes show; pass its config explicitly then.
func DetectConfig(src TensorSource) (*Config, string, error) {
	sig, err := sigFromShapes(src)
	if err != nil {
		return nil, "", fmt.Errorf("no config given, and none can be detected: %w", err)
	}
	for _, name := range BuiltinNames() {
		if name == "CoCa-Base" { // an alias of coca_base
			continue
		}
		cfg, _ := Builtin(name)
		if sigOf(cfg) == sig {
			return cfg, name, nil
		}
	}
	return nil, "", fmt.Errorf("no config given, and its tensor shapes (%s) are those of no built-in config: pass its open_clip model config", sig)
}

// detectHint returns ", its tensor shapes are those of NAME" when src's
// shapes match a built-in other than want, for load errors.
func detectHint(src TensorSource, want *Config) string {
	cfg, name, err := DetectConfig(src)
	if err != nil || (want != nil && sigOf(cfg) == sigOf(want)) {
		return ""
	}
	return "; its tensor shapes are those of the built-in config " + name
}
