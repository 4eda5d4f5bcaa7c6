package coca

import (
	"math"
	"strings"

	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
)

// Init sets every parameter from a seeded generator, following open_clip's
// initialisation where it has one and PyTorch's layer defaults elsewhere:
//
//   - vision tower: class_embedding, positional_embedding and proj ~
//     N(0, Wv^-½), the vision width's scale for all three as in open_clip;
//     conv1 and linear layers use PyTorch's default U(±1/sqrt(fan_in)); attention in_proj weights xavier-uniform with zero
//     in_proj/out_proj biases (nn.MultiheadAttention's defaults).
//   - text tower (open_clip's TextTransformer.init_parameters):
//     token_embedding N(0, 0.02), positional_embedding and cls_emb N(0, 0.01),
//     in_proj N(0, W^-½), out_proj and c_proj N(0, W^-½·(2·layers)^-½),
//     c_fc N(0, (2W)^-½), text_projection N(0, W^-½).
//   - multimodal decoder: the same scheme as the text tower, with
//     text_projection N(0, W^-½) (open_clip never runs its decoder init
//     and leaves this matrix uninitialised; we do not).
//   - pooler queries N(0, 1); LayerNorm gains 1 and biases 0;
//     logit_scale = ln(1/0.07).
func (m *Model) Init(seed uint64) {
	m.dropBF16() // a model with bfloat16 weights becomes a float32 one
	g := tensor.NewRNG(seed)
	c := m.Config
	for _, p := range m.Params() {
		setDefault(g, p)
	}
	vw := float64(c.Vision.Width)
	g.Normal(m.Visual.ClassEmbedding, 0, math.Pow(vw, -0.5))
	g.Normal(m.Visual.PositionalEmbedding, 0, math.Pow(vw, -0.5))
	g.Normal(m.Visual.Proj, 0, math.Pow(vw, -0.5)) // open_clip: scale = width^-½ for proj too

	tw := float64(c.Text.Width)
	g.Normal(m.Text.TokenEmbedding.Weight, 0, 0.02)
	g.Normal(m.Text.PositionalEmbedding, 0, 0.01)
	g.Normal(m.Text.ClsEmb, 0, 0.01)
	initBlocks(g, m.Text.Transformer.Resblocks, tw, c.Text.Layers)
	g.Normal(m.Text.TextProjection, 0, math.Pow(tw, -0.5))

	mw := float64(c.Multimodal.Width)
	initBlocks(g, m.TextDecoder.Resblocks, mw, c.Multimodal.Layers)
	initBlocks(g, m.TextDecoder.CrossAttn, mw, c.Multimodal.Layers)
	g.Normal(m.TextDecoder.TextProjection, 0, math.Pow(mw, -0.5))

	m.LogitScale.Fill(float32(math.Log(1 / 0.07)))
}

// setDefault applies PyTorch's default initialisation for the kind of
// parameter the name says it is.
func setDefault(g *tensor.RNG, p nn.Param) {
	t, name := p.Tensor, p.Name
	switch {
	case strings.HasSuffix(name, "query"):
		g.Normal(t, 0, 1)
	case isLayerNorm(name) && strings.HasSuffix(name, ".weight"):
		t.Fill(1)
	case isLayerNorm(name), strings.HasSuffix(name, "in_proj_bias"), strings.HasSuffix(name, "out_proj.bias"):
		t.Fill(0)
	case strings.HasSuffix(name, "in_proj_weight"):
		// xavier_uniform_ over the packed (3W, W) matrix, as PyTorch does.
		g.XavierUniform(t, 1)
	case strings.HasSuffix(name, "q_proj_weight"), strings.HasSuffix(name, "k_proj_weight"), strings.HasSuffix(name, "v_proj_weight"):
		g.XavierUniform(t, 1)
	case t.Dims() >= 2:
		// nn.Linear / nn.Conv2d default: kaiming_uniform(a=√5) = U(±1/sqrt(fan_in)).
		bound := 1 / math.Sqrt(float64(t.Numel()/t.Dim(0)))
		g.Uniform(t, -bound, bound)
	case strings.HasSuffix(name, ".bias"):
		// Linear biases start at zero (PyTorch would draw U(±1/sqrt(fan_in));
		// zero matches the attention biases and open_clip's trained models
		// do not depend on it).
		t.Fill(0)
	}
}

func isLayerNorm(name string) bool {
	for _, s := range []string{"ln_1.", "ln_2.", "ln_1_kv.", "ln_pre.", "ln_post.", "ln_final.", "ln_q.", "ln_k."} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// initBlocks applies open_clip's transformer init to a stack of blocks.
func initBlocks(g *tensor.RNG, blocks []*nn.ResidualAttentionBlock, width float64, layers int) {
	attnStd := math.Pow(width, -0.5)
	projStd := attnStd * math.Pow(2*float64(layers), -0.5)
	fcStd := math.Pow(2*width, -0.5)
	for _, b := range blocks {
		a := b.Attn
		for _, w := range []*tensor.Tensor{a.InProjWeight, a.QProjWeight, a.KProjWeight, a.VProjWeight} {
			if w != nil {
				g.Normal(w, 0, attnStd)
			}
		}
		g.Normal(a.OutProj.Weight, 0, projStd)
		g.Normal(b.MLP.CFc.Weight, 0, fcStd)
		g.Normal(b.MLP.CProj.Weight, 0, projStd)
	}
}
