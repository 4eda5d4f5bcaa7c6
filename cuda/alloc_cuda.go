//go:build cuda && cgo

package cuda

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"unsafe"
)

// allocator is a caching allocator of CUDA device memory (or managed
// memory, see Options.Memory). Blocks of up to
// smallMax bytes are rounded up to a multiple of smallAlign and carved
// from slabs of slabSize; larger ones are rounded up to a multiple of
// slabSize and allocated on their own. Freed blocks wait in per-size free
// lists for the next request of their size: a training step asks for the
// same sizes every time, so after the first step nothing reaches the
// driver. Slabs are never returned; cached large blocks are, when an
// allocation runs out of device memory.
//
// The driver lets managed memory grow past the GPU's memory, paging it in
// and out on every access; the allocator does not: beyond limit bytes (the
// GPU's memory) an allocation fails as device memory does, after the
// cached large blocks have been handed back. Blocks are reused in stream
// order: a block freed while kernels that use it are still queued is only
// handed to work queued after them, on the same stream.
//
// Every slab and large block is recorded in a sorted table of regions, so
// that find tells whether a slice lies in managed memory (and may be used
// in place by a kernel) or must be staged.
type allocator struct {
	mu sync.Mutex

	regions []region         // sorted by base
	free    map[int][]uint64 // free blocks by rounded size
	slab    uint64           // unused part of the current slab
	slabEnd uint64

	managed  bool   // cuMemAllocManaged instead of cuMemAlloc
	limit    int64  // most bytes to take from the driver (0: no limit)
	device   string // "cuda:N", for messages
	inUse    int64  // bytes handed out
	cached   int64  // bytes in free lists
	driver   int64  // bytes taken from the driver
	released int64  // cached bytes handed back to the driver when memory ran out
	// idle waits for the stream before cached blocks go back to the
	// driver (queued kernels may still use them).
	idle func() error
}

type region struct {
	base, size uint64
	large      bool
}

const (
	smallMax   = 1 << 20
	smallAlign = 512
	slabSize   = 2 << 20
)

// roundSize returns the block size that serves a request of n bytes.
func roundSize(n int) int {
	if n <= smallMax {
		return (n + smallAlign - 1) / smallAlign * smallAlign
	}
	return (n + slabSize - 1) / slabSize * slabSize
}

// get returns a block of at least n > 0 bytes (contents unspecified). The
// caller holds the device's context on this thread.
func (a *allocator) get(n int) (uint64, error) {
	size := roundSize(n)
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.free[size]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[size] = l[:len(l)-1]
		a.cached -= int64(size)
		a.inUse += int64(size)
		return p, nil
	}
	if size <= smallMax {
		if a.slab == 0 || a.slabEnd-a.slab < uint64(size) {
			p, err := a.driverAlloc(slabSize)
			if err != nil {
				return 0, err
			}
			a.addRegion(region{p, slabSize, false})
			a.slab, a.slabEnd = p, p+slabSize
		}
		p := a.slab
		a.slab += uint64(size)
		a.inUse += int64(size)
		return p, nil
	}
	p, err := a.driverAlloc(size)
	if err != nil {
		return 0, err
	}
	a.addRegion(region{p, uint64(size), true})
	a.inUse += int64(size)
	return p, nil
}

// put returns a block of n requested bytes to its free list.
func (a *allocator) put(p uint64, n int) {
	size := roundSize(n)
	a.mu.Lock()
	a.free[size] = append(a.free[size], p)
	a.inUse -= int64(size)
	a.cached += int64(size)
	a.mu.Unlock()
}

// errLimit is the allocator's own out-of-memory error (managed memory
// past the GPU's size).
var errLimit = errors.New("the allocation would exceed the GPU's memory")

// driverAlloc allocates memory from the driver; out of memory, it first
// hands the cached large blocks back to the driver and tries again.
func (a *allocator) driverAlloc(size int) (uint64, error) {
	p, err := a.tryAlloc(size)
	if err != nil && (isOutOfMemory(err) || errors.Is(err, errLimit)) && a.releaseCached() {
		p, err = a.tryAlloc(size)
	}
	if err != nil {
		kind := "device"
		if a.managed {
			kind = "managed"
		}
		return 0, fmt.Errorf("out of GPU memory on %s: %s more of %s memory with %s in use, %s cached, %s taken from the driver "+
			"of a %s limit (reduce the batch size): %w", a.device, gib(int64(size)), kind, gib(a.inUse), gib(a.cached), gib(a.driver), gib(a.limit), err)
	}
	a.driver += int64(size)
	return p, nil
}

func (a *allocator) tryAlloc(size int) (uint64, error) {
	if a.limit > 0 && a.driver+int64(size) > a.limit {
		return 0, errLimit
	}
	if a.managed {
		return cuMemAllocManaged(size)
	}
	return cuMemAlloc(size)
}

func gib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// releaseCached frees the cached large blocks; it reports whether there
// were any.
func (a *allocator) releaseCached() bool {
	if a.idle != nil && a.idle() != nil {
		return false
	}
	released := false
	for size, l := range a.free {
		if size <= smallMax {
			continue
		}
		for _, p := range l {
			if cuMemFree(p) == nil {
				a.removeRegion(p)
				a.cached -= int64(size)
				a.driver -= int64(size)
				a.released += int64(size)
				released = true
			}
		}
		delete(a.free, size)
	}
	return released
}

func (a *allocator) addRegion(r region) {
	i := sort.Search(len(a.regions), func(i int) bool { return a.regions[i].base > r.base })
	a.regions = append(a.regions, region{})
	copy(a.regions[i+1:], a.regions[i:])
	a.regions[i] = r
}

func (a *allocator) removeRegion(base uint64) {
	i := sort.Search(len(a.regions), func(i int) bool { return a.regions[i].base >= base })
	if i < len(a.regions) && a.regions[i].base == base {
		a.regions = append(a.regions[:i], a.regions[i+1:]...)
	}
}

// find reports whether [p, p+n) lies inside one region of managed memory.
func (a *allocator) find(p uint64, n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := sort.Search(len(a.regions), func(i int) bool { return a.regions[i].base > p }) - 1
	return i >= 0 && p+uint64(n) <= a.regions[i].base+a.regions[i].size
}

// floats returns the n float32 values at p as a slice (len and cap n).
func floats(p uint64, n int) []float32 {
	return unsafe.Slice((*float32)(hostPtr(p)), n)
}

func sliceAddr(s []float32) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(s)))) }
