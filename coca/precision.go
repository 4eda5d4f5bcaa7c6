package coca

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
)

// SetPrecision sets the precision of the model's matrix products (see
// tensor.Precision): with tensor.PrecisionBF16 every product of its
// forward and backward passes (the encoders' and decoders' linear layers,
// the vocabulary projection, the contrastive logits) rounds its operands
// to bfloat16 and sums in float32, while the parameters, activations,
// gradients and an optimizer's state stay float32 (mixed-precision
// training). Attention, normalisation and the elementwise ops stay
// float32. It marks this model's parameters only: other models in the
// process keep their own precision. It combines with bfloat16 weights
// (QuantizeBF16, LoadBF16): products of more than 32 rows (the encoders)
// round the activations and read the 16-bit weights in place on a CPU
// with AVX512_BF16 (elsewhere they widen them: the same values), and a
// decoding step's products of a few rows read the 16-bit weights with
// float32 activations, as without it. On such a model PrecisionBF16 also
// stores the matrices of the vision tower's blocks in 16 bits (half their
// memory; see bf16.go) and PrecisionF32 widens them back.
//
// It returns an error when the backend cannot take products in p (a
// device backend: bfloat16 products are the CPU's). Like Load, it must not
// run while the model serves other goroutines.
func (m *Model) SetPrecision(p tensor.Precision) error {
	if err := tensor.CheckPrecision(p); err != nil {
		return fmt.Errorf("coca: %w", err)
	}
	for _, prm := range m.Params() {
		prm.Tensor.SetPrecision(p)
	}
	if m.IsBF16() { // the vision tower's matrices: see bf16.go
		for _, sl := range m.visionSlots(nil) {
			if p == tensor.PrecisionBF16 {
				sl.t.ToBF16(false)
			} else {
				sl.t.ToFloat32()
			}
		}
	}
	return nil
}

// Precision returns the precision of the model's products (SetPrecision;
// tensor.PrecisionF32 unless set).
func (m *Model) Precision() tensor.Precision { return m.LogitScale.Precision() }
