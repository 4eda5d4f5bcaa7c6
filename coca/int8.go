package coca

import (
	"fmt"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// A model with int8 weights (QuantizeInt8) stores the matrices a decoding
// step reads, the same ones as a bfloat16 model (see bf16.go: every matrix
// of the blocks of both text stacks, the token embedding and the
// vocabulary projection, stored transposed), as int8 with one float32
// scale per output (per row of a weight matrix, per token of the
// embedding and of the vocabulary projection): a quarter of their float32
// size, and a decoding step, bound by reading its weights from memory,
// reads half what it reads in bfloat16. A weight's value is q·scale, q =
// round(w·127/max|w| of its row); a decoding step's product scales each
// output's sum once (tensor.Int8Multiplier); products of many rows (the
// text tower, the uncached decoder) dequantize the weights block by block
// into the float32 kernels. Everything else keeps its float32 values: the
// vision tower, the text tower's positional embedding and projection,
// biases, LayerNorm parameters, class embeddings and logit_scale.
//
// Like a bfloat16 model, it is for inference (Model.Forward outside a
// no-grad scope panics naming a weight), and Load or Init makes it a
// float32 model again. Int8 weights are the CPU's (tensor.CheckInt8).

// IsInt8 reports whether the model holds int8 weights (QuantizeInt8).
func (m *Model) IsInt8() bool { return m.TextDecoder.TextProjection.DType() == tensor.Int8 }

// QuantizeInt8 switches the model to int8 weights (see the comment at the
// top of int8.go), from float32 or bfloat16 weights; it does nothing on a
// model that has int8 weights already. It returns an error under a
// backend that cannot hold them (a device). Like Load, it must not run
// while the model serves other goroutines.
func (m *Model) QuantizeInt8() error {
	if err := tensor.CheckInt8(); err != nil {
		return fmt.Errorf("coca: %w", err)
	}
	if m.IsInt8() {
		return nil
	}
	for _, sl := range m.textSlots() {
		sl.t.ToInt8(sl.transpose)
	}
	for _, sl := range m.visionSlots(nil) {
		sl.t.ToFloat32() // a bfloat16 model's under bfloat16 products
	}
	return nil
}

// weightsKind names how the model stores the text stacks' weights:
// "float32", "bfloat16" or "int8".
func (m *Model) weightsKind() string { return m.TextDecoder.TextProjection.DType().String() }

// int8Tensor returns an int8 parameter's values (q·scale) as a float32
// safetensors entry in its own (R, C) layout.
func int8Tensor(name string, t *tensor.Tensor) safetensors.Tensor {
	q, scales, transposed := t.Int8()
	v := make([]float32, len(q))
	shape := t.Shape()
	if transposed { // stored (C, R), a scale per stored row
		r, c := shape[0], shape[1]
		for j := 0; j < c; j++ {
			for i := 0; i < r; i++ {
				v[i*c+j] = float32(q[j*r+i]) * scales[j]
			}
		}
	} else {
		k := len(q) / max(len(scales), 1)
		for i, x := range q {
			v[i] = float32(x) * scales[i/k]
		}
	}
	return safetensors.F32(name, shape, v)
}
