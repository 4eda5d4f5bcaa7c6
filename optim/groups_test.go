package optim

import (
	"slices"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestNoDecayOpenCLIPNames checks the default rule on open_clip CoCa
// parameter names with their shapes (coca_ViT-B-32: vision width 768,
// text width 512, embed 512, 256 pooler queries).
func TestNoDecayOpenCLIPNames(t *testing.T) {
	cases := []struct {
		name    string
		shape   []int
		noDecay bool
	}{
		{"visual.class_embedding", []int{768}, true},
		{"visual.positional_embedding", []int{50, 768}, true},
		{"visual.attn_pool.query", []int{256, 512}, true},
		{"visual.attn_pool_contrastive.query", []int{1, 512}, true},
		{"visual.attn_pool.ln_q.weight", []int{512}, true},
		{"visual.attn_pool.ln_k.bias", []int{768}, true},
		{"visual.ln_pre.weight", []int{768}, true},
		{"visual.ln_post.weight", []int{512}, true},
		{"visual.ln_post.bias", []int{512}, true},
		{"visual.transformer.resblocks.3.ln_1.weight", []int{768}, true},
		{"visual.transformer.resblocks.3.mlp.c_fc.bias", []int{3072}, true},
		{"text.token_embedding.weight", []int{49408, 512}, true},
		{"text.positional_embedding", []int{77, 512}, true},
		{"text.cls_emb", []int{512}, true},
		{"text.ln_final.weight", []int{512}, true},
		{"text.transformer.resblocks.0.attn.in_proj_bias", []int{1536}, true},
		{"text.transformer.resblocks.0.attn.out_proj.bias", []int{512}, true},
		{"text_decoder.cross_attn.0.ln_1_kv.weight", []int{512}, true},
		{"text_decoder.cross_attn.0.ln_1_kv.bias", []int{512}, true},
		{"text_decoder.resblocks.0.ln_2.weight", []int{512}, true},
		{"text_decoder.ln_final.weight", []int{512}, true},
		{"logit_scale", []int{}, true},
		{"logit_scale", []int{1}, true},

		{"visual.conv1.weight", []int{768, 3, 32, 32}, false},
		{"visual.proj", []int{512, 512}, false},
		{"visual.attn_pool.attn.in_proj_weight", []int{1536, 512}, false},
		{"visual.attn_pool.attn.k_proj_weight", []int{512, 768}, false},
		{"visual.transformer.resblocks.3.attn.in_proj_weight", []int{2304, 768}, false},
		{"visual.transformer.resblocks.3.mlp.c_proj.weight", []int{768, 3072}, false},
		{"text.text_projection", []int{512, 512}, false},
		{"text.transformer.resblocks.0.attn.out_proj.weight", []int{512, 512}, false},
		{"text_decoder.resblocks.0.mlp.c_fc.weight", []int{2048, 512}, false},
		{"text_decoder.cross_attn.0.attn.q_proj_weight", []int{512, 512}, false},
		{"text_decoder.text_projection", []int{512, 49408}, false},
	}
	for _, c := range cases {
		if got := NoDecay(c.name, c.shape); got != c.noDecay {
			t.Errorf("NoDecay(%q, %v) = %v, want %v", c.name, c.shape, got, c.noDecay)
		}
	}
}

// TestOpenCLIPNoDecay checks open_clip's own rule, which decays 2-D
// embeddings and pooler queries.
func TestOpenCLIPNoDecay(t *testing.T) {
	cases := []struct {
		name    string
		shape   []int
		noDecay bool
	}{
		{"text.token_embedding.weight", []int{49408, 512}, false},
		{"visual.positional_embedding", []int{50, 768}, false},
		{"visual.attn_pool.query", []int{256, 512}, false},
		{"visual.class_embedding", []int{768}, true},
		{"visual.ln_post.weight", []int{512}, true},
		{"logit_scale", []int{}, true},
		{"visual.proj", []int{512, 512}, false},
	}
	for _, c := range cases {
		if got := OpenCLIPNoDecay(c.name, c.shape); got != c.noDecay {
			t.Errorf("OpenCLIPNoDecay(%q, %v) = %v, want %v", c.name, c.shape, got, c.noDecay)
		}
	}
}

// TestCustomNoDecay checks that a config's rule replaces the default: with
// every parameter decaying, a 1-D parameter shrinks under a zero gradient.
func TestCustomNoDecay(t *testing.T) {
	p := paramWithGrad("visual.ln_post.weight", []float32{0, 0}, 2)
	copy(p.Data(), []float32{1, -2})
	cfg := DefaultAdamWConfig()
	cfg.WeightDecay = 0.5
	cfg.NoDecay = func(string, []int) bool { return false }
	o, err := NewAdamW([]*tensor.Tensor{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.Step(0.1)
	// zero gradient: the Adam update is 0/(0+eps) = 0, only decay acts
	want := []float32{1 * float32(1-0.1*0.5), -2 * float32(1-0.1*0.5)}
	for i, v := range p.Data() {
		if v != want[i] {
			t.Errorf("p[%d] = %v, want %v", i, v, want[i])
		}
	}
	// the default rule exempts it
	q := paramWithGrad("visual.ln_post.weight", []float32{0, 0}, 2)
	copy(q.Data(), []float32{1, -2})
	cfg.NoDecay = nil
	o2, err := NewAdamW([]*tensor.Tensor{q}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o2.Step(0.1)
	if q.Data()[0] != 1 || q.Data()[1] != -2 {
		t.Errorf("exempt parameter changed: %v", q.Data())
	}
}

func TestSplitDecay(t *testing.T) {
	ps := []*tensor.Tensor{
		tensor.NewParam("visual.proj", 4, 4),
		tensor.NewParam("visual.ln_post.weight", 4),
		tensor.NewParam("text.token_embedding.weight", 10, 4),
		tensor.NewParam("text_decoder.resblocks.0.mlp.c_fc.weight", 16, 4),
		tensor.NewParam("logit_scale"),
	}
	names := func(ts []*tensor.Tensor) []string {
		var out []string
		for _, p := range ts {
			out = append(out, p.Name())
		}
		return out
	}
	decay, noDecay := SplitDecay(ps, nil)
	if got := names(decay); !slices.Equal(got, []string{"visual.proj", "text_decoder.resblocks.0.mlp.c_fc.weight"}) {
		t.Errorf("decay group %v", got)
	}
	if got := names(noDecay); !slices.Equal(got, []string{"visual.ln_post.weight", "text.token_embedding.weight", "logit_scale"}) {
		t.Errorf("no-decay group %v", got)
	}
	decay, _ = SplitDecay(ps, OpenCLIPNoDecay)
	if got := names(decay); !slices.Equal(got, []string{"visual.proj", "text.token_embedding.weight", "text_decoder.resblocks.0.mlp.c_fc.weight"}) {
		t.Errorf("open_clip decay group %v", got)
	}
}
