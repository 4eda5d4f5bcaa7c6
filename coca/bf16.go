package coca

import (
	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// A model with bfloat16 weights (QuantizeBF16, LoadBF16) stores the
// matrices a decoding step reads in bfloat16 only: every matrix of the
// blocks of both text stacks (attention projections, c_fc, c_proj), the
// token embedding and the vocabulary projection (stored transposed, (V, W),
// so that a step reads it row by row). That is about two thirds of
// coca_ViT-B-32's parameters at half their float32 size. The parameters
// stay where they are (the same tensors, names and shapes): their storage
// changes (tensor.ToBF16), and the layers multiply with whatever their
// weights store, so every path (nn's layers called directly included)
// reads the bfloat16 values. A product of a few rows (a decoding step)
// runs the backend's bfloat16 kernel; a larger one (the text tower, the
// uncached decoder) widens the weights block by block into the float32
// kernels, or with bfloat16 products on a CPU with AVX512_BF16 reads them
// in place (asm.SgemmBF16StoredT), so its results are those of the
// float32 model over the rounded weights, bit for bit (see
// tensor.BF16Multiplier).
//
// The other weight matrices (the vision tower, the text tower's positional
// embedding and projection) stay float32, holding the rounded values,
// except that with bfloat16 products (SetPrecision(PrecisionBF16), before
// or after the weights are made bfloat16) the matrices of the vision
// tower's blocks are stored in bfloat16 too: its products round them to
// bfloat16 pairs anyway, and on a CPU with AVX512_BF16 they read those
// pairs where they lie (asm.SgemmBF16StoredT), in half the memory, with
// the float32-stored model's results (a product of at most 32 rows, an
// image of so few tokens, reads them against float32 activations as a
// decoding step does). SetPrecision(PrecisionF32) widens them back
// (exactly).
// Biases, LayerNorm parameters, class embeddings and logit_scale keep
// their full values.
//
// Such a model is for inference: no gradient flows through a bfloat16
// weight, so Model.Forward outside a no-grad scope panics naming it. Load
// or Init makes it a float32 model again.

// bf16Slot is a parameter a bfloat16 model stores in bfloat16.
type bf16Slot struct {
	t         *tensor.Tensor
	transpose bool // stored transposed: the vocabulary projection (W, V)
}

// bf16Slots lists the parameters a bfloat16 model stores in bfloat16 at
// the model's precision: the text slots, and with bfloat16 products the
// vision tower's block matrices (visionSlots) too.
func (m *Model) bf16Slots() []bf16Slot {
	s := m.textSlots()
	if m.Precision() == tensor.PrecisionBF16 {
		s = m.visionSlots(s)
	}
	return s
}

// textSlots lists the matrices a decoding step reads, which a bfloat16 or
// int8 model stores in 16 or 8 bits whatever its precision: both text
// stacks' block matrices, the token embedding and the vocabulary
// projection (stored transposed).
func (m *Model) textSlots() []bf16Slot {
	blocks := append(append(append([]*nn.ResidualAttentionBlock{}, m.Text.Transformer.Resblocks...), m.TextDecoder.Resblocks...), m.TextDecoder.CrossAttn...)
	s := blockMatrices(nil, blocks)
	s = append(s, bf16Slot{t: m.Text.TokenEmbedding.Weight})
	return append(s, bf16Slot{t: m.TextDecoder.TextProjection, transpose: true})
}

// visionSlots appends the matrices of the vision tower's blocks to s:
// those a bfloat16 model stores in bfloat16 with bfloat16 products only.
func (m *Model) visionSlots(s []bf16Slot) []bf16Slot {
	return blockMatrices(s, m.Visual.Transformer.Resblocks)
}

// blockMatrices appends the weight matrices of blocks (attention
// projections, c_fc, c_proj) to s.
func blockMatrices(s []bf16Slot, blocks []*nn.ResidualAttentionBlock) []bf16Slot {
	add := func(t *tensor.Tensor) {
		if t != nil {
			s = append(s, bf16Slot{t: t})
		}
	}
	for _, blk := range blocks {
		a := blk.Attn
		add(a.InProjWeight)
		add(a.QProjWeight)
		add(a.KProjWeight)
		add(a.VProjWeight)
		add(a.OutProj.Weight)
		add(blk.MLP.CFc.Weight)
		add(blk.MLP.CProj.Weight)
	}
	return s
}

// IsBF16 reports whether the model holds bfloat16 weights (QuantizeBF16
// or LoadBF16).
func (m *Model) IsBF16() bool { return m.TextDecoder.TextProjection.DType() == tensor.BFloat16 }

// QuantizeBF16 switches a float32 model to bfloat16 weights (see the
// comment at the top of bf16.go): every weight matrix (each parameter with
// two or more axes) is rounded to the nearest bfloat16 (ties to even); the
// matrices of both text stacks, the token embedding and the vocabulary
// projection (and with bfloat16 products those of the vision tower's
// blocks) keep only their bfloat16 values (their float32 storage is
// freed) and the others are rounded in place. It does nothing on a model
// that already has bfloat16 weights. Like Load, it must not run while the
// model serves other goroutines.
//
// LoadBF16 gives the same model straight from a checkpoint, without a
// float32 copy of those matrices.
func (m *Model) QuantizeBF16() {
	if m.IsBF16() {
		return
	}
	for _, sl := range m.bf16Slots() {
		sl.t.ToBF16(sl.transpose)
	}
	for _, p := range m.Params() {
		if p.Tensor.DType() != tensor.Float32 || p.Tensor.Dims() < 2 {
			continue
		}
		d := append([]float32(nil), tensor.HostValues(p.Tensor, nil)...) // a copy from a device
		for i, v := range d {
			d[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
		}
		p.Tensor.CopyFrom(d)
	}
}

// dropBF16 gives every parameter float32 storage again (widening the
// bfloat16 or int8 values), before Load or Init overwrites every
// parameter.
func (m *Model) dropBF16() {
	for _, p := range m.Params() {
		p.Tensor.ToFloat32()
	}
}

// bf16Tensor returns a bfloat16 parameter's values as a safetensors entry
// in its own (R, C) layout.
func bf16Tensor(name string, t *tensor.Tensor) safetensors.Tensor {
	h, transposed := t.BF16()
	if transposed { // stored (C, R)
		r, c := t.Dim(0), t.Dim(1)
		out := make([]uint16, len(h))
		for j := 0; j < c; j++ {
			for i := 0; i < r; i++ {
				out[i*c+j] = h[j*r+i]
			}
		}
		h = out
	}
	return safetensors.BF16(name, t.Shape(), h)
}
