package tensor

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/tensor/safetensors"
)

// Reduced-precision weights. A leaf tensor (a parameter, or a tensor made
// with New or FromSlice) may hold its values in bfloat16, the high half of
// a float32, instead of float32: half the memory, for weights a model only
// reads. Such a tensor keeps its identity, name and shape; ToBF16 and
// ToFloat32 switch its storage in place.
//
// A bfloat16 tensor takes no gradient and only the products read it:
// Linear (as the weight), MatMul (as the right operand, when the product
// is x·Sᵀ for its stored matrix S) and Embedding (as the table); Rows
// views its rows and Scope.Use puts it in a scope. Every other op, Data
// and CopyFrom panic naming it. A product of at most bf16GemvRows rows
// runs the backend's bfloat16 kernel (BF16Multiplier), which reads every
// weight once, accumulating in float32 in its own order; a larger one
// widens the weights (bf16WidenBlock values at a time) and runs the
// float32 GEMM, so that its results are those of the float32 kernels over
// the rounded weights, bit for bit. Where that GEMM's products are
// bfloat16 (PrecisionBF16, or the CPUBF16 backend) it would convert the
// widened weights back to bfloat16 pairs: there the CPU reads the stored
// weights in place instead (asm.SgemmBF16StoredT: the dot form of at most
// 128 rows, and the packed GEMM, whose panels take the stored pairs as
// they lie), with the results of the float32 kernels over the rounded
// weights.

// DType names the element type a tensor stores.
type DType int

const (
	Float32  DType = iota // float32 values (every tensor an op makes)
	BFloat16              // bfloat16 values (weights only: see ToBF16)
	Int8                  // int8 values with a scale per row (weights only: see ToInt8)
)

func (d DType) String() string {
	switch d {
	case BFloat16:
		return "bfloat16"
	case Int8:
		return "int8"
	}
	return "float32"
}

// bf16GemvRows is the most rows of x a bfloat16 product runs with the
// backend's bfloat16 kernel: a decoding step (one row per caption or
// beam) reads each weight once; more rows run faster as a float32 GEMM
// over widened weights.
const bf16GemvRows = 32

// bf16WidenBlock bounds the weights a product widens at a time (values;
// a variable for tests).
var bf16WidenBlock = 1 << 21

// BF16Widener is an optional extension of Backend: widening bfloat16
// values where the backend computes (a device). Without it the ops widen
// with host loops.
type BF16Widener interface {
	// WidenBF16 sets dst[i] to the float32 value of the bfloat16 src[i].
	WidenBF16(dst []float32, src []uint16)
}

// BF16Multiplier is an optional extension of Backend: products of a few
// rows (a decoding step) with weights stored in bfloat16, reading each
// weight once. Without it the ops widen the weights (BF16Widener, or on
// the host) into pooled buffers and call Gemm.
type BF16Multiplier interface {
	// GemmBF16 sets y[r·ldy + o] = bias[o] + Σ_i x[r·k + i]·W[o·k + i]
	// for r < m, o < n, with W (n×k) in bfloat16, accumulating in float32
	// (bias nil adds nothing). Each output's summation order depends on k
	// only, never on m, n, ldy or how the backend splits the work.
	GemmBF16(y []float32, ldy int, x []float32, w []uint16, bias []float32, m, n, k int)
}

// DType returns the element type t stores.
func (t *Tensor) DType() DType {
	if t.half != nil {
		return BFloat16
	}
	if t.q8 != nil {
		return Int8
	}
	return Float32
}

// BF16 returns a bfloat16 tensor's stored values and whether they are
// stored transposed (a 2-D (R, C) tensor stored as its (C, R) transpose);
// nil for a float32 tensor. The caller must not modify them.
func (t *Tensor) BF16() (values []uint16, transposed bool) {
	t.live("BF16")
	return t.half, t.halfT
}

// ToBF16 rounds the values of a float32 leaf to bfloat16 (nearest, ties
// to even) and keeps only those, stored as t's row-major values or, with
// transposed (2-D only), as those of its transpose, for products that
// read it as x·tᵀ... (see MatMul). t takes no gradient afterwards. It
// does nothing to a tensor already in bfloat16 stored the same way. Like
// any write, it must not run while another goroutine reads t.
func (t *Tensor) ToBF16(transposed bool) {
	t.checkLeaf("ToBF16")
	if t.q8 != nil {
		t.ToFloat32()
	}
	if t.half != nil {
		if t.halfT != transposed {
			t.ToFloat32()
		} else {
			return
		}
	}
	h := make([]uint16, len(t.data))
	src := HostValues(t, nil) // one copy from a device
	if transposed {
		r, c := t.dims2("ToBF16")
		transposeTiles(r, c, func(i, j int) { h[j*r+i] = safetensors.Float32ToBF16(src[i*c+j]) })
	} else {
		for i, v := range src {
			h[i] = safetensors.Float32ToBF16(v)
		}
	}
	t.storeBF16(h, transposed)
}

// SetBF16 makes h (Numel values, row-major, or for transposed the
// row-major values of t's transpose) the bfloat16 values of the leaf t,
// in place of its float32 ones, without a float32 copy: checkpoints load
// bfloat16 weights this way. t keeps h (under a device backend, a copy of
// it in device memory).
func (t *Tensor) SetBF16(h []uint16, transposed bool) {
	t.checkLeaf("SetBF16")
	if len(h) != t.Numel() {
		panic(fmt.Sprintf("tensor: SetBF16: %d values for %s", len(h), t.describe()))
	}
	if transposed {
		t.dims2("SetBF16")
	}
	t.storeBF16(h, transposed)
}

// ToFloat32 widens a bfloat16 tensor's values back into float32 storage
// (exactly), or an int8 tensor's (each float32(q)·scale); a parameter
// requires gradients again. It does nothing to a float32 tensor.
func (t *Tensor) ToFloat32() {
	t.checkLeaf("ToFloat32")
	if t.q8 != nil {
		t.widenInt8()
		return
	}
	if t.half == nil {
		return
	}
	dst := makeBuf(len(t.half))
	half, d := t.half, dst
	if onDevice(t.halfBuf) { // widened on the host between two copies
		host := make([]float32, len(t.halfBuf))
		CopyOut(host, t.halfBuf)
		half = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(host))), len(t.half))
		d = make([]float32, len(dst))
	}
	if t.halfT {
		r, c := t.dims2("ToFloat32")
		transposeTiles(r, c, func(i, j int) { d[i*c+j] = widen(half[j*r+i]) })
	} else {
		for i, v := range half {
			d[i] = widen(v)
		}
	}
	if len(d) > 0 && &d[0] != &dst[0] {
		CopyIn(dst, d)
		d = dst
	}
	freeBuf(t.halfBuf)
	t.data, t.half, t.halfBuf, t.halfT = d, nil, nil, false
	t.requiresGrad = t.param
}

// storeBF16 replaces t's float32 storage by h.
func (t *Tensor) storeBF16(h []uint16, transposed bool) {
	if t.half != nil {
		freeBuf(t.halfBuf)
	} else {
		freeBuf(t.data)
	}
	t.data, t.halfBuf, t.q8, t.q8Scale = nil, nil, nil, nil
	if devAlloc != nil && len(h) > 0 {
		// Device memory: float32 values reinterpreted as pairs of halves.
		t.halfBuf = makeBuf((len(h) + 1) / 2)
		t.half = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(t.halfBuf))), len(h))
		if onDevice(t.halfBuf) { // one copy onto the device
			host := make([]float32, len(t.halfBuf))
			copy(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(host))), len(h)), h)
			CopyIn(t.halfBuf, host)
		} else {
			copy(t.half, h)
		}
	} else {
		t.half = h
	}
	if t.half == nil {
		t.half = []uint16{}
	}
	t.halfT = transposed
	t.requiresGrad = false
	t.grad, t.gradStale = nil, false
}

func (t *Tensor) checkLeaf(op string) {
	t.live(op)
	if t.pooled || t.base != nil || len(t.inputs) > 0 || t.back != nil {
		panic(fmt.Sprintf("tensor: %s: %s is not a leaf (a parameter, or a tensor made with New or FromSlice)", op, t.describe()))
	}
}

func (t *Tensor) dims2(op string) (int, int) {
	if len(t.shape) != 2 {
		panic(fmt.Sprintf("tensor: %s: transposed storage needs a 2-D tensor, not %s", op, t.describe()))
	}
	return t.shape[0], t.shape[1]
}

// freeBuf hands a leaf's buffer back to the device allocator that made
// it (host memory goes to the garbage collector).
func freeBuf(b []float32) {
	if devAlloc != nil && cap(b) > 0 && devAlloc.Owns(b) {
		devAlloc.Free(b[:cap(b)])
	}
}

// describe names t in messages: its name, shape and element type.
func (t *Tensor) describe() string {
	s := fmt.Sprintf("tensor of shape %v", t.shape)
	if t.name != "" {
		s = fmt.Sprintf("%q (shape %v)", t.name, t.shape)
	}
	if t.reduced() {
		s += " in " + t.DType().String()
	}
	return s
}

func widen(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// transposeTiles calls f(i, j) for every element of a rows × cols matrix,
// 64 × 64 tiles at a time (so that both sides stay in cache).
func transposeTiles(rows, cols int, f func(i, j int)) {
	const t = 64
	for i0 := 0; i0 < rows; i0 += t {
		for j0 := 0; j0 < cols; j0 += t {
			for i := i0; i < min(i0+t, rows); i++ {
				for j := j0; j < min(j0+t, cols); j++ {
					f(i, j)
				}
			}
		}
	}
}

// widenBF16 widens src into dst through the backend's kernel, or on the
// host.
func widenBF16(dst []float32, src []uint16) {
	if k, ok := backend.(BF16Widener); ok {
		k.WidenBF16(dst, src)
		return
	}
	for i, v := range src {
		dst[i] = widen(v)
	}
}

// mulBF16 computes out (rows × n, row stride n) = x (rows × k)·Sᵀ + bias
// for S (n × k) the bfloat16 matrix s, overwriting out. A product of a
// few rows reads S with x in float32 whatever p is; a larger one runs the
// GEMM over widened S in precision p (PrecisionBF16 then also rounds x),
// or with bfloat16 products where the kernel can, reads S where it lies
// (asm.SgemmBF16StoredT: the product over the whole widened S, bit for
// bit).
func mulBF16(p Precision, out, x []float32, s []uint16, bias []float32, rows, n, k int) {
	if rows == 0 || n == 0 {
		return
	}
	if rows <= bf16GemvRows {
		if kb, ok := backend.(BF16Multiplier); ok {
			kb.GemmBF16(out, n, x, s, bias, rows, n, k)
			return
		}
	}
	if sb, ok := backend.(storedBF16Products); ok && sb.bf16Products(p) {
		// The widened S would be converted back to bfloat16 pairs: read
		// S where it lies instead, where the kernel can, taking the
		// product the float32 model over the rounded weights takes.
		if asm.SgemmBF16StoredT(rows, n, k, x, k, s, k, bias, 0, out, n) {
			return
		}
	}
	mulWidened(p, out, x, bias, rows, n, k, func(dst []float32, o0, o1 int) { widenBF16(dst, s[o0*k:o1*k]) })
}

// storedBF16Products is an optional extension of Backend (the CPU's): it
// reports whether a product in precision p takes its products in
// bfloat16 (asm.SgemmBF16), so that a bfloat16 weight's product can read
// the weight in place (asm.SgemmBF16StoredT), bit for bit the product of
// the widened weight.
type storedBF16Products interface {
	bf16Products(p Precision) bool
}

func (cpuBackend) bf16Products(p Precision) bool { return p == PrecisionBF16 }

// mulWidened computes out (rows × n) = x (rows × k)·Sᵀ + bias for a stored
// S (n × k) that widen writes into float32, a block of its rows [o0, o1)
// at a time (bf16WidenBlock values), running the float32 GEMM in
// precision p into the matching columns of out, with the bias stored
// first (as Linear does).
func mulWidened(p Precision, out, x, bias []float32, rows, n, k int, widen func(dst []float32, o0, o1 int)) {
	if bias != nil {
		fillRows(out, bias, rows, n)
	}
	beta := float32(0)
	if bias != nil {
		beta = 1
	}
	if k == 0 {
		if bias == nil {
			zero(out)
		}
		return
	}
	step := max(1, min(n, bf16WidenBlock/k))
	var w []float32
	for o0 := 0; o0 < n; o0 += step {
		o1 := min(n, o0+step)
		if w == nil {
			w = pool.get(step * k)
		}
		widen(w[:(o1-o0)*k], o0, o1)
		product(p, false, true, rows, o1-o0, k, 1, x, k, 0, w, k, 0, beta, out[o0:], n, 0, 1)
	}
	if w != nil {
		pool.put(w)
	}
}

// fillRows stores bias in each of the rows of out (row length n).
func fillRows(out, bias []float32, rows, n int) {
	if deviceBlocks(out, bias, rows, n, n, 0, 0, 0, false) {
		return
	}
	parallelFor(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(out[r*n:(r+1)*n], bias)
		}
	})
}

// linearBF16 is Linear (transposed false) or MatMul by a 2-D bfloat16 or
// int8 right operand w whose product is x·Sᵀ for its stored matrix S (n × k):
// out (..., n) = x (..., k)·Sᵀ + b.
func linearBF16(op string, x, w, b *Tensor, n, k int) *Tensor {
	x.live(op)
	inputs := []*Tensor{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	if scopeOf(inputs) == nil && (x.requiresGrad || b != nil && b.requiresGrad) {
		panic(fmt.Sprintf("tensor: %s: weight %s serves inference only (no gradient flows through a weight stored in %s): run it in a no-grad scope", op, w.describe(), w.DType()))
	}
	rows := x.Numel() / max(k, 1)
	if k == 0 {
		rows = numel(x.shape[:len(x.shape)-1])
	}
	shape := append(cloneInts(x.shape[:len(x.shape)-1]), n)
	var bias []float32
	if b != nil {
		bias = b.Data() // panics for a bfloat16 bias
	}
	if x.reduced() {
		panic(fmt.Sprintf("tensor: %s: input %s must be float32", op, x.describe()))
	}
	out := newOutMixed(shape, numel(shape), inputs)
	if w.q8 != nil {
		mulInt8(out.prec, out.data, x.data, w.q8, w.q8Scale, bias, rows, n, k)
	} else {
		mulBF16(out.prec, out.data, x.data, w.half, bias, rows, n, k)
	}
	return out
}
