// Package nn holds the layers CoCa is built from: Linear, LayerNorm,
// Embedding, MultiheadAttention, MLP, ResidualAttentionBlock,
// AttentionalPooler and PatchEmbed. Layers are plain structs whose exported
// parameter fields are named as open_clip's state_dict names them; Params
// lists (name, tensor) pairs with those names.
//
// Each layer has one implementation of its arithmetic, whatever runs it:
// training (the ops record a graph when their inputs require gradients),
// inference (inputs in a tensor.NoGrad scope: nothing recorded, and the
// layers hand each intermediate back to the pool as soon as it is read,
// with tensor.Drop), and decoding one position at a time against cached
// keys and values (Step, StepCross). The weights may store float32 or
// bfloat16 values (tensor.ToBF16): the products multiply with whichever
// they hold. Layers keep no state between calls, so any number of
// goroutines may run one layer at once, as long as none writes its
// parameters.
package nn

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// Param is a named parameter.
type Param struct {
	Name   string
	Tensor *tensor.Tensor
}

// Module is anything with parameters.
type Module interface {
	Params() []Param
}

// prefixed returns m's parameters with prefix+"." prepended to each name.
func prefixed(prefix string, m Module) []Param {
	ps := m.Params()
	for i := range ps {
		ps[i].Name = prefix + "." + ps[i].Name
	}
	return ps
}

// Collect joins the parameters of named sub-modules.
func Collect(parts ...any) []Param {
	var out []Param
	for i := 0; i < len(parts); i += 2 {
		name := parts[i].(string)
		switch v := parts[i+1].(type) {
		case nil:
		case Module:
			if v == nil {
				continue
			}
			out = append(out, prefixed(name, v)...)
		case *tensor.Tensor:
			if v != nil {
				out = append(out, Param{name, v})
			}
		default:
			panic(fmt.Sprintf("nn: Collect: %s is %T", name, v))
		}
	}
	return out
}

// Linear is y = x·Wᵀ + b with Weight (Out, In) and Bias (Out) or nil.
type Linear struct {
	Weight *tensor.Tensor
	Bias   *tensor.Tensor
}

// NewLinear returns a zeroed Linear layer.
func NewLinear(in, out int, bias bool) *Linear {
	l := &Linear{Weight: tensor.NewParam("weight", out, in)}
	if bias {
		l.Bias = tensor.NewParam("bias", out)
	}
	return l
}

// Forward applies the layer to x (..., In).
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor { return tensor.Linear(x, l.Weight, l.Bias) }

// Params lists weight and bias.
func (l *Linear) Params() []Param { return Collect("weight", l.Weight, "bias", l.Bias) }

// LayerNorm normalises the last axis (eps 1e-5 as torch's default).
type LayerNorm struct {
	Weight, Bias *tensor.Tensor
	Eps          float32 // default 1e-5
}

// NewLayerNorm returns a LayerNorm with gain 1 and bias 0.
func NewLayerNorm(n int) *LayerNorm {
	l := &LayerNorm{Weight: tensor.NewParam("weight", n), Bias: tensor.NewParam("bias", n), Eps: 1e-5}
	l.Weight.Fill(1)
	return l
}

// Forward normalises x (..., N).
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.LayerNorm(x, l.Weight, l.Bias, l.Eps)
}

// Params lists weight and bias.
func (l *LayerNorm) Params() []Param { return Collect("weight", l.Weight, "bias", l.Bias) }

// Embedding maps token ids to rows of Weight (V, C).
type Embedding struct {
	Weight *tensor.Tensor
}

// NewEmbedding returns a zeroed embedding table.
func NewEmbedding(v, c int) *Embedding { return &Embedding{Weight: tensor.NewParam("weight", v, c)} }

// Forward returns (B, L, C) for ids (B, L) given row-major with width l.
func (e *Embedding) Forward(ids []int, b, l int) *tensor.Tensor {
	return tensor.Reshape(tensor.Embedding(e.Weight, ids), b, l, e.Weight.Dim(1))
}

// Params lists the table.
func (e *Embedding) Params() []Param { return Collect("weight", e.Weight) }

// Activation selects the MLP's non-linearity.
type Activation int

const (
	GELU      Activation = iota // exact (erf) GELU, PyTorch's nn.GELU
	QuickGELU                   // x·σ(1.702x), OpenAI CLIP's
)

// applyDrop returns the activation of x and drops x (tensor.Drop): GELU
// in x's buffer where it can (tensor.GELUInPlace).
func (a Activation) applyDrop(x *tensor.Tensor) *tensor.Tensor {
	if a == QuickGELU {
		g := tensor.QuickGELU(x)
		tensor.Drop(x)
		return g
	}
	return tensor.GELUInPlace(x)
}

// MLP is c_fc → activation → c_proj.
type MLP struct {
	CFc, CProj *Linear
	Act        Activation
}

// NewMLP returns an MLP width → hidden → width.
func NewMLP(width, hidden int, act Activation) *MLP {
	return &MLP{CFc: NewLinear(width, hidden, true), CProj: NewLinear(hidden, width, true), Act: act}
}

// Forward applies the MLP to x (..., width).
func (m *MLP) Forward(x *tensor.Tensor) *tensor.Tensor {
	g := m.Act.applyDrop(m.CFc.Forward(x))
	out := m.CProj.Forward(g)
	tensor.Drop(g)
	return out
}

// Params lists c_fc and c_proj.
func (m *MLP) Params() []Param { return Collect("c_fc", m.CFc, "c_proj", m.CProj) }
