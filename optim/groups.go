package optim

import (
	"strings"

	"github.com/gococa/gococa/tensor"
)

// NoDecay reports whether the parameter called name, of the given shape, is
// exempt from weight decay. It is the default rule of every optimizer here
// (AdamWConfig.NoDecay and the others replace it). Exempt are:
//
//   - every parameter with fewer than 2 dimensions (biases, LayerNorm gains
//     and biases, class_embedding, cls_emb, logit_scale, scalars);
//   - biases by name: a last name component "bias" or ending in "_bias"
//     (in_proj_bias, logit_bias);
//   - normalisation layers: a name component that is "ln" or starts with
//     "ln_" or "ln" and a digit (ln_1, ln_1_kv, ln_final, ln_pre, ln_post,
//     ln_q, ln_k, ln1), or contains "norm" (norm1, layernorm, layer_norm),
//     or starts with "bn";
//   - embeddings: a component ending in "embedding" or "_emb" or equal to
//     "cls_emb", "pos_embed", "cls_token" (token_embedding,
//     positional_embedding, class_embedding);
//   - attentional pooler queries: a last component "query" or "queries"
//     (visual.attn_pool.query, visual.attn_pool_contrastive.query);
//   - logit_scale.
//
// Everything else with 2 or more dimensions decays: linear and convolution
// weights, in_proj_weight, visual.proj, text.text_projection,
// text_decoder.text_projection.
//
// open_clip's own rule (OpenCLIPNoDecay) differs in that it decays the
// 2-D embeddings and the pooler queries.
func NoDecay(name string, shape []int) bool {
	if len(shape) < 2 {
		return true
	}
	last := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		last = name[i+1:]
	}
	if last == "bias" || strings.HasSuffix(last, "_bias") ||
		last == "query" || last == "queries" || last == "logit_scale" {
		return true
	}
	for c := range strings.SplitSeq(name, ".") {
		if isNormComponent(c) || isEmbeddingComponent(c) {
			return true
		}
	}
	return false
}

func isNormComponent(c string) bool {
	c = strings.ToLower(c)
	switch {
	case c == "ln", strings.HasPrefix(c, "ln_"):
		return true
	case len(c) > 2 && strings.HasPrefix(c, "ln") && c[2] >= '0' && c[2] <= '9':
		return true
	case strings.Contains(c, "norm"), strings.HasPrefix(c, "bn"):
		return true
	}
	return false
}

func isEmbeddingComponent(c string) bool {
	switch c {
	case "cls_emb", "pos_embed", "cls_token":
		return true
	}
	return strings.HasSuffix(c, "embedding") || strings.HasSuffix(c, "_emb")
}

// OpenCLIPNoDecay is open_clip's training rule (its main.py "exclude"):
// no decay for parameters with fewer than 2 dimensions or whose name
// contains "bn", "ln", "bias" or "logit_scale". Pass it as a config's
// NoDecay to train exactly as open_clip does.
func OpenCLIPNoDecay(name string, shape []int) bool {
	return len(shape) < 2 || strings.Contains(name, "bn") || strings.Contains(name, "ln") ||
		strings.Contains(name, "bias") || strings.Contains(name, "logit_scale")
}

// SplitDecay partitions params, in order, into those that weight decay
// applies to and those exempt under rule (nil means NoDecay): the groups an
// optimizer built with that rule uses, for logging and checks.
func SplitDecay(params []*tensor.Tensor, rule func(name string, shape []int) bool) (decay, noDecay []*tensor.Tensor) {
	rule = chooseDecay(rule)
	for _, p := range params {
		if rule(p.Name(), p.Shape()) {
			noDecay = append(noDecay, p)
		} else {
			decay = append(decay, p)
		}
	}
	return decay, noDecay
}
