package asm

import (
	"sync"
	"sync/atomic"
)

// Barrier makes the goroutines of one parallel computation wait for
// each other between its phases (for example once per packed B panel of a
// GEMM). A waiter first spins (for at most poolSpin), which is all it
// takes when the group's goroutines all run, and saves the wake-up of a
// parked goroutine (tens of microseconds per phase on a virtual machine);
// then it parks, so that on a busy machine, where a goroutine of the group
// may be off its CPU for a while, the waiters give their CPUs back instead
// of burning them.
type Barrier struct {
	n     int32 // goroutines in the group
	count atomic.Int32
	gen   atomic.Uint32 // phases completed; changed under mu
	mu    sync.Mutex
	cond  sync.Cond
}

// NewBarrier returns a barrier for a group of n goroutines.
func NewBarrier(n int) *Barrier {
	b := &Barrier{n: int32(n)}
	b.cond.L = &b.mu
	return b
}

// Wait returns once all n goroutines have called it for this phase.
func (b *Barrier) Wait() {
	if b.n <= 1 {
		return
	}
	gen := b.gen.Load()
	if b.count.Add(1) == b.n {
		b.count.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.mu.Unlock()
		b.cond.Broadcast()
		return
	}
	if spinUntil(func() bool { return b.gen.Load() != gen }) {
		return
	}
	b.mu.Lock()
	for b.gen.Load() == gen {
		b.cond.Wait()
	}
	b.mu.Unlock()
}
