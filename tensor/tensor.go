// Package tensor provides float32 tensors with reverse-mode automatic
// differentiation.
//
// Every op in this package does its shape logic and autograd bookkeeping in
// Go and hands the arithmetic to a Backend (see backend.go). A tensor is a
// shape and a contiguous row-major buffer; Reshape returns a view that shares
// the buffer, the other shape ops copy.
//
// Autograd: an op whose inputs require gradients records its inputs and a
// backward function on its output. Backward(loss) walks that graph once in
// reverse topological order and accumulates (+=) gradients into every tensor
// that requires them. Release(loss) then returns the buffers of every
// intermediate tensor of the graph to a pool, so the next step reuses them
// instead of allocating. For inference, a no-grad Scope (NoGrad) marks the
// tensors it is given, and every op reading them records nothing; Drop
// hands an intermediate's buffer back as soon as its last reader has run.
//
// Concurrency: nothing process-wide decides whether an op records or
// whether a buffer may be reused, so any number of goroutines may run ops
// at once, on shared read-only tensors (a model's parameters) too, as long
// as no goroutine writes a tensor that another reads: training a model
// (which writes its parameters and their gradients) excludes running it
// elsewhere, and a graph (Backward, Release) belongs to one goroutine. The
// backend (SetBackend) is process-wide: choose it once, at start-up,
// before any tensor is made.
//
// Misuse (mismatched shapes, bad axes) panics with a message naming the op
// and the shapes, as slicing out of range does.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is an n-dimensional float32 array that may take part in autograd.
type Tensor struct {
	shape []int
	data  []float32
	grad  []float32

	// gradStale: grad's values are to be read as zeros. ZeroGrad of a
	// leaf that owns its gradient sets it instead of clearing the buffer,
	// so that the first op to write all of the gradient stores into it
	// (gradDst) and nothing clears it in between; any other use clears it
	// first (Grad, gradBuf).
	gradStale bool

	requiresGrad bool
	param        bool
	pooled       bool    // data came from the pool and goes back on Release
	released     bool    // buffers handed back: any use panics
	dropped      bool    // values handed back (Drop): the node stays for its gradient
	freeInput    bool    // recorded as the input of an op whose backward does not read its values
	base         *Tensor // non-nil for a view: data and grad alias base's
	off          int     // a view's offset into base's buffers
	name         string
	saved        [2][]float32 // pooled buffers an op keeps for its backward
	lastBack     bool         // BackwardRelease releases t right after t.back
	captured     bool         // a recorded op holds t (or a view of it) for its backward: Drop leaves it
	scope        *Scope       // the no-grad scope t was made in, or nil
	half         []uint16     // bfloat16 values (see bf16.go); data is then nil
	halfT        bool         // half or q8 holds the transpose of a 2-D t
	q8           []int8       // int8 values (see int8.go); data is then nil
	q8Scale      []float32    // the scale of each stored row of q8
	halfBuf      []float32    // device memory behind half, or nil
	prec         Precision    // the precision of the products that read t (precision.go)

	// graph
	inputs []*Tensor
	back   func()
	mark   uint32
}

// New returns a zeroed tensor of the given shape. It takes no part in
// autograd unless SetRequiresGrad is called. Under a device backend (see
// Allocator) its buffer is device memory that lives as long as the process.
func New(shape ...int) *Tensor {
	n := checkShape("New", shape)
	return &Tensor{shape: cloneInts(shape), data: makeBuf(n)}
}

// FromSlice wraps data (not copied) as a tensor of the given shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	n := checkShape("FromSlice", shape)
	if len(data) != n {
		panic(fmt.Sprintf("tensor: FromSlice: %d values for shape %v (want %d)", len(data), shape, n))
	}
	return &Tensor{shape: cloneInts(shape), data: data}
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{shape: []int{}, data: []float32{v}} }

// Full returns a tensor filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	t.Fill(v)
	return t
}

// NewParam returns a named, zeroed parameter: a leaf that requires gradients
// and whose buffers are never pooled or released.
func NewParam(name string, shape ...int) *Tensor {
	t := New(shape...)
	t.name = name
	t.param = true
	t.requiresGrad = true
	return t
}

func checkShape(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: %s: negative dimension in shape %v", op, shape))
		}
		n *= d
	}
	return n
}

func cloneInts(s []int) []int { return append([]int(nil), s...) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int { return len(t.shape) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis("Dim", i)] }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return numel(t.shape) }

// Data returns the tensor's values (row-major). Writes are visible to the
// tensor; do not write to tensors that take part in a recorded graph.
func (t *Tensor) Data() []float32 {
	t.live("Data")
	t.float32s("Data")
	return t.data
}

// float32s panics when t stores bfloat16 or int8 values.
func (t *Tensor) float32s(op string) {
	if t.half != nil {
		panic(fmt.Sprintf("tensor: %s: %s stores bfloat16 values (BF16 returns them; ToFloat32 widens them)", op, t.describe()))
	}
	if t.q8 != nil {
		panic(fmt.Sprintf("tensor: %s: %s stores int8 values (Int8 returns them; ToFloat32 widens them)", op, t.describe()))
	}
}

// reduced reports whether t stores bfloat16 or int8 values.
func (t *Tensor) reduced() bool { return t.half != nil || t.q8 != nil }

// Grad returns the accumulated gradient, or nil if none has been computed.
// After ZeroGrad the first call (or backward pass) clears the buffer.
func (t *Tensor) Grad() []float32 {
	if t.base != nil {
		g := t.base.Grad()
		if g == nil {
			return nil
		}
		return g[t.off : t.off+t.Numel()]
	}
	t.freshen()
	return t.grad
}

// freshen clears a stale gradient (see gradStale).
func (t *Tensor) freshen() {
	if t.gradStale {
		t.gradStale = false
		zero(t.grad)
	}
}

// Item returns the single value of a one-element tensor.
func (t *Tensor) Item() float32 {
	t.live("Item")
	t.float32s("Item")
	if len(t.data) != 1 {
		panic(fmt.Sprintf("tensor: Item: tensor of shape %v has %d elements", t.shape, len(t.data)))
	}
	if r, ok := hostReader(t.data); ok { // device memory: one copy
		var v [1]float32
		r.CopyToHost(v[:], t.data)
		return v[0]
	}
	return t.data[0]
}

// Name returns a parameter's name ("" for activations).
func (t *Tensor) Name() string { return t.name }

// SetName names the tensor (used in messages and checkpoints).
func (t *Tensor) SetName(s string) { t.name = s }

// IsParam reports whether t was made by NewParam.
func (t *Tensor) IsParam() bool { return t.param }

// RequiresGrad reports whether gradients flow into t.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad marks a leaf tensor as needing its gradient.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	if t.back != nil {
		panic("tensor: SetRequiresGrad on a non-leaf tensor")
	}
	t.requiresGrad = b
	return t
}

// ZeroGrad sets the gradient to zero (keeping its buffer). For a leaf that
// owns its gradient (a parameter) the buffer is cleared when next used, and
// not at all when the next backward pass writes all of it; Grad reads
// zeros either way.
func (t *Tensor) ZeroGrad() {
	if t.base == nil && !t.pooled && t.grad != nil {
		t.gradStale = true
		return
	}
	zero(t.Grad())
}

// SetGradBuffer makes buf t's gradient buffer, holding t's gradient so far
// (zeros if it has none), so that a caller can keep the gradients of many
// parameters in one slice (data-parallel training's all-reduce buckets)
// and read or reduce them there without copies. t must be a leaf that owns
// its data (not a view or an op's output) and buf its length, memory of
// the current backend (Alloc under a device backend). buf stays t's
// gradient until the next SetGradBuffer or a conversion to bfloat16.
func (t *Tensor) SetGradBuffer(buf []float32) {
	t.live("SetGradBuffer")
	if t.base != nil || t.pooled || t.back != nil {
		panic(fmt.Sprintf("tensor: SetGradBuffer: %s is not a leaf owning its data", t.describe()))
	}
	if len(buf) != len(t.data) {
		panic(fmt.Sprintf("tensor: SetGradBuffer: %d values for %s of %d", len(buf), t.describe(), len(t.data)))
	}
	switch g := t.Grad(); {
	case len(buf) == 0:
	case g == nil:
		zero(buf)
	case &g[0] == &buf[0]:
	case OnDevice():
		backend.Scale(1, buf, g) // on the device; ×1 is exact
	default:
		copy(buf, g)
	}
	t.grad = buf
}

// Detach returns a tensor sharing t's data with no autograd history.
func (t *Tensor) Detach() *Tensor {
	t.live("Detach")
	return &Tensor{shape: t.shape, data: t.data, half: t.half, halfT: t.halfT, q8: t.q8, q8Scale: t.q8Scale, prec: t.prec}
}

// Clone returns a copy of t's values with no autograd history.
func (t *Tensor) Clone() *Tensor {
	t.live("Clone")
	t.float32s("Clone")
	return &Tensor{shape: cloneInts(t.shape), data: append([]float32(nil), t.data...), prec: t.prec}
}

// CopyFrom copies src's values into t (shapes must have equal size). It is
// for loading weights and inputs, not for use inside a recorded graph.
func (t *Tensor) CopyFrom(src []float32) {
	t.live("CopyFrom")
	t.float32s("CopyFrom")
	if len(src) != len(t.data) {
		panic(fmt.Sprintf("tensor: CopyFrom: %d values into shape %v", len(src), t.shape))
	}
	CopyIn(t.data, src) // one copy onto a device
}

// String formats the shape and the first values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v", t.shape)
	if t.name != "" {
		fmt.Fprintf(&b, " %q", t.name)
	}
	if t.released {
		b.WriteString(" (released)")
		return b.String()
	}
	if t.reduced() {
		b.WriteString(" " + t.DType().String())
		return b.String()
	}
	b.WriteString(" [")
	for i, v := range t.data {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.4g", v)
	}
	b.WriteByte(']')
	return b.String()
}

func (t *Tensor) live(op string) {
	if t.released {
		panic(fmt.Sprintf("tensor: %s: tensor of shape %v was released (Release hands an intermediate's buffer back to the pool; copy values out before)", op, t.shape))
	}
	if t.dropped {
		panic(fmt.Sprintf("tensor: %s: the values of a tensor of shape %v were dropped (Drop hands an intermediate's values back to the pool; copy them out before)", op, t.shape))
	}
}

// axis normalises a possibly negative axis.
func (t *Tensor) axis(op string, i int) int {
	r := len(t.shape)
	if i < 0 {
		i += r
	}
	if i < 0 || i >= r {
		panic(fmt.Sprintf("tensor: %s: axis %d out of range for shape %v", op, i, t.shape))
	}
	return i
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Zeros returns a zeroed tensor whose buffer comes from the pool: Release
// of a graph that uses it hands the buffer back. Use it for per-step inputs
// such as masks and batches so that steady training allocates nothing.
func Zeros(shape ...int) *Tensor {
	n := checkShape("Zeros", shape)
	return &Tensor{shape: cloneInts(shape), data: pool.getZero(n), pooled: true}
}
