// Package devicetest gives tests a backend with a device backend's memory
// contract on the host: Backend wraps another backend (the CPU one) and
// implements tensor.Allocator the way the CUDA backend does (cuda/doc.go):
// every buffer of New, NewParam, the pool, gradients and optimizer state
// comes from its Alloc and is never garbage collected; only Free hands it
// back. It counts the bytes outstanding, so that a test can show that a
// loop returns to the same figure after every iteration: nothing leaks
// that a real device would keep forever.
//
// The wrapped backend's optional kernels (StridedAttention, BF16Widener,
// BF16Multiplier, KVAttention, ...) are hidden, so the ops take the
// fallbacks a device backend without them would, and OnDevice reports
// true, so they take the device paths too.
package devicetest

import (
	"fmt"
	"sort"
	"sync"
	"unsafe"

	"github.com/gococa/gococa/tensor"
)

// Backend is a backend whose memory is counted, never collected.
type Backend struct {
	tensor.Backend // the kernels (optional ones hidden)

	mu     sync.Mutex
	live   map[uintptr][]float32 // every buffer Alloc handed out and Free did not take back (held: never collected), by start address
	starts []uintptr             // sorted keys of live, rebuilt lazily
	dirty  bool
	bytes  int64
	allocs int64
}

// New returns a counting backend running b's kernels.
func New(b tensor.Backend) *Backend { return &Backend{Backend: b, live: map[uintptr][]float32{}} }

// Name names the backend.
func (c *Backend) Name() string { return "counting(" + c.Backend.Name() + ")" }

func addr(b []float32) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// Alloc returns n zeroed values, counted until Free.
func (c *Backend) Alloc(n int) []float32 {
	b := make([]float32, n)
	if n == 0 {
		return b
	}
	c.mu.Lock()
	c.live[addr(b)] = b
	c.bytes += 4 * int64(n)
	c.allocs++
	c.dirty = true
	c.mu.Unlock()
	return b
}

// Free takes back a whole buffer Alloc returned; anything else panics (as
// a double free on a device would corrupt it).
func (c *Backend) Free(b []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.live[addr(b)]
	if !ok || len(h) != len(b) {
		panic(fmt.Sprintf("devicetest: Free of %d values that Alloc did not hand out whole", len(b)))
	}
	delete(c.live, addr(b))
	c.bytes -= 4 * int64(len(h))
	c.dirty = true
}

// Owns reports whether b lies in a buffer Alloc handed out.
func (c *Backend) Owns(b []float32) bool {
	if cap(b) == 0 {
		return false
	}
	p := addr(b[:1])
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty {
		c.starts = c.starts[:0]
		for s := range c.live {
			c.starts = append(c.starts, s)
		}
		sort.Slice(c.starts, func(i, j int) bool { return c.starts[i] < c.starts[j] })
		c.dirty = false
	}
	i := sort.Search(len(c.starts), func(i int) bool { return c.starts[i] > p }) - 1
	return i >= 0 && p < c.starts[i]+uintptr(4*len(c.live[c.starts[i]]))
}

// Outstanding returns the bytes Alloc has handed out and Free has not
// taken back, and the number of Alloc calls so far.
func (c *Backend) Outstanding() (bytes, allocs int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, c.allocs
}

var _ tensor.Allocator = (*Backend)(nil)
