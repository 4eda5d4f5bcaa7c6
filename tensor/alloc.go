package tensor

// Memory of device backends.
//
// The Backend seam passes host []float32 slices. A backend whose kernels
// run on an accelerator (the CUDA backend keeps its buffers in CUDA managed
// memory, addressable from both sides) implements Allocator as well: then
// New, NewParam, Zeros, the activation pool, gradients and optimizer state
// (Alloc) take their buffers from it, so that the kernels find them in
// device memory and nothing is copied. Host code still reads and writes
// those slices directly (Data, Item, checkpoints); the backend makes each
// kernel's results visible to the host before its method returns. A slice
// from anywhere else (the Go heap) still works with such a backend, which
// copies it to the device and back around the call.
//
// The CPU backend has no Allocator: buffers are plain make, and nothing in
// this file changes its speed.

// Allocator is implemented by a Backend whose kernels need their buffers in
// memory it provides.
type Allocator interface {
	// Alloc returns n zeroed values with len and cap n.
	Alloc(n int) []float32
	// Free hands back a full-length buffer that Alloc returned. The
	// caller must not use it afterwards.
	Free(b []float32)
	// Owns reports whether b lies in memory that Alloc hands out.
	Owns(b []float32) bool
}

// devAlloc is the current backend's Allocator, nil for a host backend. It
// changes only in SetBackend.
var devAlloc Allocator

// setAllocator switches the pool to the Allocator of b (nil for none).
// Pooled buffers of the previous allocator go back to it; host buffers go
// to the garbage collector, so the pool never hands out memory of another
// backend.
func setAllocator(b Backend) {
	a, _ := b.(Allocator)
	if a == devAlloc {
		return
	}
	pool.flush(devAlloc)
	devAlloc = a
}

// makeBuf returns n zeroed values from the current backend's memory.
func makeBuf(n int) []float32 {
	if devAlloc != nil && n > 0 {
		return devAlloc.Alloc(n)
	}
	return make([]float32, n)
}

// Alloc returns n zeroed values in the memory the current backend computes
// on (plain Go memory for the CPU backend). Optimizers keep their state in
// it. Under a device backend the buffer is never garbage collected: it
// lives as long as the process, like a parameter.
func Alloc(n int) []float32 { return makeBuf(n) }

// OnDevice reports whether the current backend computes on a device with
// its own memory (it implements Allocator). Callers then hand it whole
// buffers, one call at a time, rather than splitting work across
// goroutines.
func OnDevice() bool { return devAlloc != nil }

// zero sets b to zeros, through the backend when its memory is the
// device's (a host write would move the pages to the host).
func zero(b []float32) {
	if devAlloc != nil && len(b) > 0 {
		backend.Fill(b, 0)
		return
	}
	clear(b)
}

// deviceBlocks copies (or adds) outer rows of w values from src (row stride
// ldS, from offset offS) to dst (row stride ldD, from offset offD) with the
// backend's Strided kernel. It reports false, doing nothing, when the
// current backend computes on the host: the callers' host loops are then
// faster than a general strided walk.
func deviceBlocks(dst, src []float32, outer, w, ldD, offD, ldS, offS int, accumulate bool) bool {
	if devAlloc == nil {
		return false
	}
	if outer == 0 || w == 0 {
		return true
	}
	backend.Strided([]int{outer, w}, dst[offD:], []int{ldD, 1}, src[offS:], []int{ldS, 1}, accumulate)
	return true
}
