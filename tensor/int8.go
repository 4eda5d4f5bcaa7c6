package tensor

import (
	"fmt"
	"math"
)

// Int8 weights. A leaf tensor may hold its values as int8 with one float32
// scale per stored row instead of float32: symmetric quantization per
// output channel (a weight matrix (Out, In) has a scale per output; a
// matrix stored transposed, a scale per column), a quarter of float32's
// memory. The value of an element is float32(q)·scale of its stored row
// (rounded to float32). It is for weights a decoding step reads: a step
// is bound by reading its weights from memory, and int8 halves what
// bfloat16 reads.
//
// An int8 tensor behaves as a bfloat16 one (see bf16.go): it takes no
// gradient and only the products read it: Linear (as the weight), MatMul
// (as the right operand, when the product is x·Sᵀ for its stored matrix
// S), Embedding (as the table) and NewCrossKV; Rows views whole rows of it
// and Scope.Use puts it in a scope; every other op, Data and CopyFrom
// panic naming it. A product of at most bf16GemvRows rows runs the
// backend's int8 kernel (Int8Multiplier), which scales each output's sum
// (Σ x·q)·scale; a larger one dequantizes the weights block by block and
// runs the float32 GEMM, so that its results are those of the float32
// kernels over the dequantized weights, bit for bit. Int8 storage is the
// CPU's: ToInt8 panics under a device backend (CheckInt8).

// Int8Multiplier is an optional extension of Backend: products of a few
// rows (a decoding step) with int8 weights, reading each weight once.
// Without it the ops dequantize the weights on the host into pooled
// buffers and call Gemm.
type Int8Multiplier interface {
	// GemmInt8 sets y[r·ldy + o] = (Σ_i x[r·k + i]·W[o·k + i])·scale[o]
	// + bias[o] for r < m, o < n, with W (n×k) in int8, accumulating in
	// float32 (bias nil adds nothing). Each output's summation order
	// depends on k only, never on m, n, ldy or how the backend splits the
	// work.
	GemmInt8(y []float32, ldy int, x []float32, w []int8, scale, bias []float32, m, n, k int)
}

// CheckInt8 reports whether the current backend can hold int8 weights:
// the CPU's can; a device backend cannot.
func CheckInt8() error {
	if devAlloc != nil {
		return fmt.Errorf("tensor: int8 weights: the %s backend holds float32 and bfloat16 weights only", backend.Name())
	}
	return nil
}

// Int8 returns an int8 tensor's stored values, the scale of each stored
// row and whether they are stored transposed (a 2-D (R, C) tensor stored
// as its (C, R) transpose, with C scales); nil for any other tensor. The
// caller must not modify them.
func (t *Tensor) Int8() (values []int8, scales []float32, transposed bool) {
	t.live("Int8")
	if t.q8 == nil {
		return nil, nil, false
	}
	return t.q8, t.q8Scale, t.halfT
}

// ToInt8 quantizes the values of a leaf (float32, or bfloat16 widened
// first) to int8 and keeps only those: each stored row (t's rows of its
// last axis, or with transposed (2-D only) its columns) gets the scale
// max|v|/127 and the values round(v/scale) (halves away from zero), so
// that its largest magnitude is ±127 exactly (an all-zero row: scale 0,
// values 0). t takes no gradient afterwards. It does nothing to a tensor
// already in int8 stored the same way. It panics for a non-finite value
// and under a device backend (CheckInt8). Like any write, it must not run
// while another goroutine reads t.
func (t *Tensor) ToInt8(transposed bool) {
	t.checkLeaf("ToInt8")
	if err := CheckInt8(); err != nil {
		panic(fmt.Sprintf("%v (%s)", err, t.describe()))
	}
	if t.q8 != nil {
		if t.halfT == transposed {
			return
		}
		t.ToFloat32()
	}
	if t.half != nil {
		t.ToFloat32()
	}
	src := t.data
	rows, cols := 1, len(src)
	if len(t.shape) > 0 {
		rows, cols = numel(t.shape[:len(t.shape)-1]), t.shape[len(t.shape)-1]
	}
	if transposed {
		r, c := t.dims2("ToInt8")
		s := make([]float32, len(src))
		transposeTiles(r, c, func(i, j int) { s[j*r+i] = src[i*c+j] })
		src, rows, cols = s, c, r
	}
	q := make([]int8, len(src))
	scales := make([]float32, rows)
	for r := 0; r < rows; r++ {
		s, err := quantizeRow(q[r*cols:(r+1)*cols], src[r*cols:(r+1)*cols])
		if err != nil {
			panic(fmt.Sprintf("tensor: ToInt8: %s: stored row %d: %v", t.describe(), r, err))
		}
		scales[r] = s
	}
	t.data = nil
	t.q8, t.q8Scale, t.halfT = q, scales, transposed
	t.requiresGrad = false
	t.grad, t.gradStale = nil, false
}

// quantizeRow sets q to the int8 values of v with the scale max|v|/127,
// which it returns.
func quantizeRow(q []int8, v []float32) (float32, error) {
	var mx float32
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return 0, fmt.Errorf("value %v at %d", x, i)
		}
		mx = max(mx, float32(math.Abs(float64(x))))
	}
	if mx == 0 {
		clear(q)
		return 0, nil
	}
	scale := mx / 127
	for i, x := range v {
		r := math.Round(float64(x) / float64(scale))
		q[i] = int8(max(-127, min(127, r)))
	}
	return scale, nil
}

// dequantInt8 sets dst (rows·k values) to the values of rows int8 rows of
// length k with their scales.
func dequantInt8(dst []float32, q []int8, scale []float32, k int) {
	if k == 0 {
		return
	}
	parallelFor(len(scale), k, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s, d := scale[r], dst[r*k:(r+1)*k]
			for i, v := range q[r*k : (r+1)*k] {
				d[i] = float32(v) * s
			}
		}
	})
}

// widenInt8 gives the int8 tensor t float32 storage again (ToFloat32).
func (t *Tensor) widenInt8() {
	d := make([]float32, len(t.q8))
	if t.halfT {
		r, c := t.dims2("ToFloat32")
		transposeTiles(r, c, func(i, j int) { d[i*c+j] = float32(t.q8[j*r+i]) * t.q8Scale[j] })
	} else {
		k := len(t.q8) / max(len(t.q8Scale), 1)
		dequantInt8(d, t.q8, t.q8Scale, k)
	}
	t.data, t.q8, t.q8Scale, t.halfT = d, nil, nil, false
	t.requiresGrad = t.param
}

// mulInt8 is mulBF16 for the int8 matrix S (n × k) q with its scales.
func mulInt8(p Precision, out, x []float32, q []int8, scale, bias []float32, rows, n, k int) {
	if rows == 0 || n == 0 {
		return
	}
	if rows <= bf16GemvRows {
		if kb, ok := backend.(Int8Multiplier); ok {
			kb.GemmInt8(out, n, x, q, scale, bias, rows, n, k)
			return
		}
	}
	mulWidened(p, out, x, bias, rows, n, k, func(dst []float32, o0, o1 int) {
		dequantInt8(dst, q[o0*k:o1*k], scale[o0:o1], k)
	})
}
