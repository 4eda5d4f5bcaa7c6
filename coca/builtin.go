package coca

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// builtins are the named configs shipped with the package.
var builtins = map[string]func() Config{
	// open_clip's coca_ViT-B-32.json (the LAION-2B checkpoints and their MSCOCO finetunes).
	"coca_ViT-B-32": func() Config {
		return Config{EmbedDim: 512,
			Vision:     VisionConfig{ImageSize: 224, PatchSize: 32, Width: 768, Layers: 12, HeadWidth: 64, MLPRatio: 4, AttentionalPool: PoolLegacy, AttnPoolerQueries: 256, AttnPoolerHeads: 8},
			Text:       TextConfig{ContextLength: 76, VocabSize: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 76, VocabSize: 49408, Width: 512, Heads: 8, Layers: 12, MLPRatio: 4}}
	},
	// open_clip's coca_ViT-L-14.json.
	"coca_ViT-L-14": func() Config {
		return Config{EmbedDim: 768,
			Vision:     VisionConfig{ImageSize: 224, PatchSize: 14, Width: 1024, Layers: 24, HeadWidth: 64, MLPRatio: 4, AttentionalPool: PoolLegacy, AttnPoolerQueries: 256, AttnPoolerHeads: 8},
			Text:       TextConfig{ContextLength: 76, VocabSize: 49408, Width: 768, Heads: 12, Layers: 12, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 76, VocabSize: 49408, Width: 768, Heads: 12, Layers: 12, MLPRatio: 4}}
	},
	// The paper's CoCa-Base (Table 1): 288 px, patch 18 (256 image tokens),
	// 64k vocabulary, paper-style parallel poolers (256 captioning queries, 1
	// contrastive).
	"coca_base": paperBase,
	"CoCa-Base": paperBase,
	// The paper's CoCa-Large (Table 1).
	"CoCa-Large": func() Config {
		return Config{EmbedDim: 1024,
			Vision:     VisionConfig{ImageSize: 288, PatchSize: 18, Width: 1024, Layers: 24, HeadWidth: 64, MLPRatio: 4, AttentionalPool: PoolParallel, AttnPoolerQueries: 256, AttnPoolerHeads: 16},
			Text:       TextConfig{ContextLength: 76, VocabSize: 64000, Width: 1024, Heads: 16, Layers: 12, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 76, VocabSize: 64000, Width: 1024, Heads: 16, Layers: 12, MLPRatio: 4}}
	},
	// The paper's CoCa (2.1 B). Its image encoder (1408 wide) is narrower than
	// its decoder (2048), so the pooler must project: that is the legacy single
	// pooler (257 queries: 1 contrastive + 256 captioning), whose key/value
	// width may differ from embed_dim. Its decoder MLPs have ratio 4: the
	// paper's 5632 cannot be expressed in open_clip's format, whose decoder
	// ignores multimodal_cfg.mlp_ratio.
	"CoCa": func() Config {
		return Config{EmbedDim: 2048,
			Vision:     VisionConfig{ImageSize: 288, PatchSize: 18, Width: 1408, Layers: 40, HeadWidth: 88, MLPRatio: 6144.0 / 1408, AttentionalPool: PoolLegacy, AttnPoolerQueries: 257, AttnPoolerHeads: 16},
			Text:       TextConfig{ContextLength: 76, VocabSize: 64000, Width: 2048, Heads: 16, Layers: 18, MLPRatio: 5632.0 / 2048},
			Multimodal: MultimodalConfig{ContextLength: 76, VocabSize: 64000, Width: 2048, Heads: 16, Layers: 18, MLPRatio: 4}}
	},
	// Small configs for tests and CPU training. coca_small is the size the
	// training defaults build on (64 px, patch 8, width 128).
	"coca_tiny": func() Config {
		return Config{EmbedDim: 32,
			Vision:     VisionConfig{ImageSize: 32, PatchSize: 8, Width: 48, Layers: 2, HeadWidth: 12, MLPRatio: 4, AttentionalPool: PoolLegacy, AttnPoolerQueries: 9, AttnPoolerHeads: 4},
			Text:       TextConfig{ContextLength: 12, VocabSize: 64, Width: 32, Heads: 4, Layers: 2, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 12, VocabSize: 64, Width: 32, Heads: 4, Layers: 2, MLPRatio: 4}}
	},
	// coca_shapes is the default of `coca train` on the built-in dataset:
	// 40-pixel images in 8-pixel patches (25 image tokens: the shapes need
	// patches no larger than the objects; 16-pixel patches plateau), width
	// 64 throughout, 16 pooler queries. Narrow and many small steps beat wide
	// and few in a five-minute budget on 2 cores. Its vocabulary and context
	// length are set from the tokenizer and data.
	"coca_shapes": func() Config {
		return Config{EmbedDim: 64,
			Vision:     VisionConfig{ImageSize: 40, PatchSize: 8, Width: 64, Layers: 4, HeadWidth: 16, MLPRatio: 4, AttentionalPool: PoolParallel, AttnPoolerQueries: 16, AttnPoolerHeads: 4},
			Text:       TextConfig{ContextLength: 16, VocabSize: 49408, Width: 64, Heads: 4, Layers: 2, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 16, VocabSize: 49408, Width: 64, Heads: 4, Layers: 2, MLPRatio: 4}}
	},
	"coca_small": func() Config {
		return Config{EmbedDim: 128,
			Vision:     VisionConfig{ImageSize: 64, PatchSize: 8, Width: 128, Layers: 4, HeadWidth: 32, MLPRatio: 4, AttentionalPool: PoolParallel, AttnPoolerQueries: 32, AttnPoolerHeads: 4},
			Text:       TextConfig{ContextLength: 16, VocabSize: 49408, Width: 128, Heads: 4, Layers: 2, MLPRatio: 4},
			Multimodal: MultimodalConfig{ContextLength: 16, VocabSize: 49408, Width: 128, Heads: 4, Layers: 2, MLPRatio: 4}}
	},
}

func paperBase() Config {
	return Config{EmbedDim: 768,
		Vision:     VisionConfig{ImageSize: 288, PatchSize: 18, Width: 768, Layers: 12, HeadWidth: 64, MLPRatio: 4, AttentionalPool: PoolParallel, AttnPoolerQueries: 256, AttnPoolerHeads: 12},
		Text:       TextConfig{ContextLength: 76, VocabSize: 64000, Width: 768, Heads: 12, Layers: 12, MLPRatio: 4},
		Multimodal: MultimodalConfig{ContextLength: 76, VocabSize: 64000, Width: 768, Heads: 12, Layers: 12, MLPRatio: 4}}
}

// BuiltinNames lists the built-in config names.
func BuiltinNames() []string {
	ns := make([]string, 0, len(builtins))
	for n := range builtins {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Builtin returns a built-in config by name.
func Builtin(name string) (*Config, error) {
	f, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("coca: no built-in config %q (have %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	c := f()
	if err := c.Validate(); err != nil {
		panic(fmt.Sprintf("coca: built-in config %s: %v", name, err))
	}
	return &c, nil
}

// ResolveConfig returns a built-in config by name, or reads a JSON file.
func ResolveConfig(nameOrPath string) (*Config, error) {
	if _, ok := builtins[nameOrPath]; ok {
		return Builtin(nameOrPath)
	}
	if _, err := os.Stat(nameOrPath); err == nil || strings.HasSuffix(nameOrPath, ".json") {
		return LoadConfig(nameOrPath)
	}
	return Builtin(nameOrPath)
}
