package tensor

import (
	"fmt"
	"math"
)

// Optional Backend extensions for a backend whose memory the host must not
// touch (a GPU's device memory): the few values a step reads on the host
// move with one explicit copy, and the values the host used to write (the
// text mask, the loss, the backward seed) are written by kernels. The CPU
// backend implements none of them; its results do not change.

// HostReader is implemented by a backend whose buffers the host reads
// only through a copy. Item and Items read through it.
type HostReader interface {
	// Owns reports whether b lies in the backend's memory.
	Owns(b []float32) bool
	// CopyToHost copies src into the host slice dst after the work
	// queued before, and returns when the values are there.
	CopyToHost(dst, src []float32)
}

// CausalMasker is implemented by a backend that fills an attention mask on
// the device (CausalMask).
type CausalMasker interface {
	// CausalMask sets dst (b, n, n) to the additive causal mask (0 on and
	// below the diagonal, −∞ above), except row `row` of each block,
	// which is rowMask's (b, n) row of that block.
	CausalMask(dst, rowMask []float32, b, n, row int)
}

// CrossEntropyMeaner is implemented by a backend that keeps the
// cross-entropy's mean on the device: the loss is written by a kernel and
// its backward reads the incoming gradient there, so a training step reads
// no value on the host until it asks for the loss.
type CrossEntropyMeaner interface {
	// CrossEntropyMean is CrossEntropy that stores sum/count (count: the
	// rows whose target ≠ ignore, as the caller counted them) in loss[0],
	// computed in float64 and rounded, instead of returning them.
	CrossEntropyMean(loss, lse, logits []float32, targets []int32, rows, n int, ignore int32, count int)
	// CrossEntropyBackwardMean is CrossEntropyBackward (with store,
	// CrossEntropyBackwardStore) with g = gout[0]/float32(count) read on
	// the device.
	CrossEntropyBackwardMean(dlogits, logits, lse []float32, targets []int32, rows, n int, ignore int32, gout []float32, count int, store bool)
}

// hostReader returns the backend's HostReader when x lies in its memory.
func hostReader(x []float32) (HostReader, bool) {
	r, ok := backend.(HostReader)
	if !ok || !r.Owns(x) {
		return nil, false
	}
	return r, true
}

// Items returns the single values of one-element tensors, with one copy
// from the device (one host synchronisation) whatever their number: the
// way to read a step's losses.
func Items(ts ...*Tensor) []float32 {
	out := make([]float32, len(ts))
	var dev bool
	for i, t := range ts {
		t.live("Items")
		t.float32s("Items")
		if len(t.data) != 1 {
			panic(fmt.Sprintf("tensor: Items: tensor %d of shape %v has %d elements", i, t.shape, len(t.data)))
		}
		if _, ok := hostReader(t.data); ok {
			dev = true
		}
	}
	if !dev {
		for i, t := range ts {
			out[i] = t.data[0]
		}
		return out
	}
	r := backend.(HostReader)
	buf := pool.get(len(ts))
	for i, t := range ts {
		backend.Scale(1, buf[i:i+1], t.data) // in stream order; ×1 is exact
	}
	r.CopyToHost(out, buf)
	pool.put(buf)
	return out
}

// CausalMask returns the additive (b, n, n) attention mask that is causal
// (−∞ above the diagonal, 0 elsewhere) in every row but row `row` of each
// block, which is rowMask's row of that block ((b, n) values, Go memory).
// Its buffer comes from the pool, like Zeros. On a device backend
// (CausalMasker) a kernel fills it and only rowMask is copied.
func CausalMask(rowMask []float32, b, n, row int) *Tensor {
	if b < 0 || n < 0 || row < 0 || row >= max(n, 1) || len(rowMask) != b*n {
		panic(fmt.Sprintf("tensor: CausalMask: %d row-mask values for batch %d, size %d, row %d", len(rowMask), b, n, row))
	}
	m := &Tensor{shape: []int{b, n, n}, data: pool.get(b * n * n), pooled: true}
	if cm, ok := backend.(CausalMasker); ok {
		cm.CausalMask(m.data, rowMask, b, n, row)
		return m
	}
	zero(m.data)
	d := m.data
	inf := float32(math.Inf(-1))
	for bi := 0; bi < b; bi++ {
		blk := d[bi*n*n : (bi+1)*n*n]
		for i := 0; i < n; i++ {
			if i == row {
				copy(blk[i*n:(i+1)*n], rowMask[bi*n:(bi+1)*n])
				continue
			}
			for j := i + 1; j < n; j++ {
				blk[i*n+j] = inf
			}
		}
	}
	return m
}

// HostValues returns t's values in Go memory: t.Data() itself when they lie
// in host memory, else a copy from the device (one copy, one host
// synchronisation) into buf, reused when its capacity suffices. Read a
// device tensor's values with it rather than with Data, which hands the
// host the device's memory.
func HostValues(t *Tensor, buf []float32) []float32 {
	t.live("HostValues")
	t.float32s("HostValues")
	r, ok := hostReader(t.data)
	if !ok {
		return t.data
	}
	if cap(buf) < len(t.data) {
		buf = make([]float32, len(t.data))
	}
	buf = buf[:len(t.data)]
	r.CopyToHost(buf, t.data)
	return buf
}

// NonFiniteCounter is implemented by a device backend that counts the
// non-finite values of many buffers on the device (CountNonFinite).
type NonFiniteCounter interface {
	// CountNonFinite sets dst[0] to the number of ±Inf and NaN values
	// in xs, as a float32 (exact up to 2²⁴), without waiting.
	CountNonFinite(dst []float32, xs [][]float32)
}

// CountNonFinite sets dst (one element) to the number of ±Inf and NaN
// values in xs, exact up to 2²⁴ (above, a positive count): a guard that
// parameters stayed finite. Under a device backend that counts
// (NonFiniteCounter) it runs there and the host reads nothing, so the
// count can be read later together with other values (Items); else the
// values are read on the host (with a copy each from a device).
func CountNonFinite(dst *Tensor, xs ...*Tensor) {
	dst.live("CountNonFinite")
	dst.float32s("CountNonFinite")
	if len(dst.data) != 1 {
		panic(fmt.Sprintf("tensor: CountNonFinite: dst of shape %v has %d elements", dst.shape, len(dst.data)))
	}
	bufs := make([][]float32, 0, len(xs))
	for _, x := range xs {
		x.live("CountNonFinite")
		x.float32s("CountNonFinite")
		if len(x.data) > 0 {
			bufs = append(bufs, x.data)
		}
	}
	if c, ok := backend.(NonFiniteCounter); ok && devAlloc != nil && devAlloc.Owns(dst.data) {
		c.CountNonFinite(dst.data, bufs)
		return
	}
	var n int
	var buf []float32
	for _, x := range xs {
		v := HostValues(x, buf)
		if len(v) > 0 && &v[0] != &x.data[0] {
			buf = v
		}
		for _, f := range v {
			if math.Float32bits(f)&0x7f800000 == 0x7f800000 {
				n++
			}
		}
	}
	if _, dev := hostReader(dst.data); dev || devAlloc != nil {
		backend.Fill(dst.data, float32(n))
		return
	}
	dst.data[0] = float32(n)
}

// HostWriter is implemented by a backend whose buffers the host writes
// only through a copy (device memory). CopyIn writes through it.
type HostWriter interface {
	// CopyFromHost copies the host values src into dst, a buffer of the
	// backend, in stream order; src may be reused once it returns.
	CopyFromHost(dst, src []float32)
}

// CopyOut copies src, a buffer of the current backend or Go memory, into
// the host slice dst (len(dst) ≥ len(src)): from a device with one copy
// (one wait), else a plain copy. The way to read device memory.
func CopyOut(dst, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("tensor: CopyOut: %d values into %d", len(src), len(dst)))
	}
	if r, ok := hostReader(src); ok && len(src) > 0 {
		r.CopyToHost(dst[:len(src)], src)
		return
	}
	copy(dst, src)
}

// CopyIn copies the host values src into dst, a buffer of the current
// backend or Go memory (len(dst) ≥ len(src)): onto a device with one copy
// in stream order, else a plain copy. The way to write device memory.
func CopyIn(dst, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("tensor: CopyIn: %d values into %d", len(src), len(dst)))
	}
	if w, ok := backend.(HostWriter); ok && len(src) > 0 && devAlloc != nil && devAlloc.Owns(dst[:len(src)]) {
		w.CopyFromHost(dst[:len(src)], src)
		return
	}
	copy(dst, src)
}

// Fill sets every element of t to v: a kernel on a device.
func (t *Tensor) Fill(v float32) {
	t.live("Fill")
	t.float32s("Fill")
	if devAlloc != nil && len(t.data) > 0 && devAlloc.Owns(t.data) {
		backend.Fill(t.data, v)
		return
	}
	for i := range t.data {
		t.data[i] = v
	}
}

// onDevice reports whether b lies in the current device backend's memory.
func onDevice(b []float32) bool { return devAlloc != nil && len(b) > 0 && devAlloc.Owns(b) }
