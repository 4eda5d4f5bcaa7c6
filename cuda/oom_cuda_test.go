//go:build cuda && cgo

package cuda

import (
	"fmt"
	"strings"
	"testing"
)

// allocPanic returns the panic of b.Alloc(n) ("" if it succeeded; the
// buffer is then freed).
func allocPanic(b *Backend, n int) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	b.Free(b.Alloc(n))
	return ""
}

// TestOutOfMemory runs the allocator out of memory on the emulator, whose
// GPU is made small for the test: the cached blocks go back to the driver
// and the allocation is retried (the branch a full GPU takes), and past
// that an allocation fails with a message naming the GPU and the figures,
// leaving the backend usable. The same holds for the allocator's own limit,
// which keeps managed memory from growing past the GPU's memory (where the
// driver would page it in and out on every access instead of failing).
func TestOutOfMemory(t *testing.T) {
	b := emu(t)
	a := &b.d.alloc
	dev := b.d.ordinal
	st, _ := readEmuStats()
	old := setEmuCapacity(dev, st.LiveBytes[dev]+40<<20)
	defer setEmuCapacity(dev, old)

	_, cached0, _, released0 := b.MemoryStats() // what earlier tests left cached goes back too
	// 36 MiB in three large blocks, then back to the cache
	xs := [][]float32{b.Alloc(3 << 20), b.Alloc(3 << 20), b.Alloc(3 << 20)}
	for _, x := range xs {
		b.Free(x)
	}
	// 20 MiB: only 4 MiB are left on the GPU, but the cache goes back
	if msg := allocPanic(b, 5<<20); msg != "" {
		t.Fatalf("20 MiB with 36 MiB cached on a GPU of 40 MiB: %s", msg)
	}
	_, _, _, released := b.MemoryStats()
	// The 36 MiB, and of what earlier tests left cached the slabs that
	// are wholly free (measured: 0 or 6 MiB of 5.8 MB cached).
	if r := released - released0; r < 36<<20 || r > 36<<20+cached0+2<<20 {
		t.Errorf("%d bytes of cache handed back to the driver, want 36 MiB and up to the %d bytes cached before (in 2 MiB slabs)", r, cached0)
	}
	// 200 MiB: more than the GPU has
	msg := allocPanic(b, 50<<20)
	for _, want := range []string{"cuda: Alloc: out of GPU memory on cuda:", "200.0 MiB more", "CUDA_ERROR_OUT_OF_MEMORY", "reduce the batch size"} {
		if !strings.Contains(msg, want) {
			t.Errorf("allocation past the GPU's memory: %q, want it to contain %q", msg, want)
		}
	}
	// still usable
	x := b.Alloc(1 << 10)
	b.Fill(x, 2)
	if s := b.Sum(x); s != 2048 {
		t.Errorf("after the failure: Sum = %v, want 2048", s)
	}
	b.Free(x)

	// The allocator's own limit (managed memory would not fail).
	a.mu.Lock()
	oldLimit := a.limit
	a.limit = a.driver + 8<<20
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.limit = oldLimit
		a.mu.Unlock()
	}()
	setEmuCapacity(dev, old)
	msg = allocPanic(b, 4<<20) // 16 MiB
	if !strings.Contains(msg, "would exceed the GPU's memory") || !strings.Contains(msg, "out of GPU memory on cuda:") {
		t.Errorf("allocation past the limit: %q", msg)
	}
	if msg := allocPanic(b, 1<<20); msg != "" {
		t.Errorf("4 MiB within the limit: %s", msg)
	}
}
