package asm

import (
	"sync"
	"sync/atomic"
	"time"
)

// Parallel runs fn(0), ..., fn(n-1) concurrently and returns when all have
// returned. fn(0) runs on the calling goroutine, each of the others on a
// goroutine of its own, so tasks may wait for each other (at a barrier);
// calls may nest.
//
// The other tasks run on pooled worker goroutines. A worker that finishes
// a task waits for the next one spinning for a short while (poolSpin)
// before it parks, and the caller waits for its workers the same way: a
// training step of a small model runs thousands of parallel regions of a
// few microseconds each, back to back, and starting a goroutine for each
// (or waking a parked one) would cost more than the work it shares.
func Parallel(n int, fn func(t int)) {
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	r := &parRegion{fn: fn}
	r.state.Store(int32(n - 1))
	var local [8]*poolWorker
	ws := takeWorkers(local[:0], n-1)
	for i, w := range ws {
		w.r, w.t = r, i+1
		if w.state.Swap(workerBusy) == workerParked {
			w.wake <- struct{}{}
		}
	}
	for t := len(ws) + 1; t < n; t++ {
		w := &poolWorker{wake: make(chan struct{}, 1), r: r, t: t}
		w.state.Store(workerBusy)
		go w.loop()
	}
	fn(0)
	r.wait()
}

// parRegion is one call of Parallel. state holds the number of tasks still
// running on workers, plus parSleeping once the caller has stopped
// spinning and waits on done.
type parRegion struct {
	fn    func(int)
	state atomic.Int32
	done  chan struct{}
}

const parSleeping = 1 << 30

// wait returns when every worker task of r has returned.
func (r *parRegion) wait() {
	if spinUntil(func() bool { return r.state.Load() == 0 }) {
		return
	}
	r.done = make(chan struct{}, 1)
	if r.state.Add(parSleeping) == parSleeping {
		return // the last task finished meanwhile
	}
	<-r.done
}

// finish records that one worker task of r has returned.
func (r *parRegion) finish() {
	if r.state.Add(-1) == parSleeping {
		r.done <- struct{}{}
	}
}

// poolSpin is how long an idle worker, a caller waiting for its workers
// or a goroutine at a Barrier checks for its event before parking. It
// must exceed the time a parked goroutine takes to wake up, which on a
// virtual machine (an inter-processor interrupt through the hypervisor)
// was measured at 40-50 µs: with a shorter spin a worker parks just before
// the next task comes, the task waits for the wake-up, the caller waits
// for the task, and a 2-way split of a 130 µs GEMM took 110 µs instead of
// 65. It is short enough that idle workers give their CPUs back within a
// millisecond once no more work comes.
const poolSpin = 500 * time.Microsecond

// Worker states.
const (
	workerIdle   = iota // in the pool, spinning
	workerParked        // in the pool, blocked on wake
	workerBusy          // given a task (r, t)
)

type poolWorker struct {
	state atomic.Int32
	wake  chan struct{}
	r     *parRegion // the task: r.fn(t); set before state becomes workerBusy
	t     int
}

var pool struct {
	mu   sync.Mutex
	idle []*poolWorker
}

// maxIdleWorkers bounds the pool; a worker finding it full exits.
const maxIdleWorkers = 64

// takeWorkers removes up to n idle workers from the pool and appends them
// to dst.
func takeWorkers(dst []*poolWorker, n int) []*poolWorker {
	pool.mu.Lock()
	k := min(n, len(pool.idle))
	dst = append(dst, pool.idle[len(pool.idle)-k:]...)
	clear(pool.idle[len(pool.idle)-k:])
	pool.idle = pool.idle[:len(pool.idle)-k]
	pool.mu.Unlock()
	return dst
}

// loop runs the worker's task, then waits in the pool for the next one.
func (w *poolWorker) loop() {
	for {
		r := w.r
		r.fn(w.t)
		w.r = nil
		w.state.Store(workerIdle)
		pool.mu.Lock()
		if len(pool.idle) >= maxIdleWorkers {
			pool.mu.Unlock()
			r.finish()
			return
		}
		pool.idle = append(pool.idle, w)
		pool.mu.Unlock()
		r.finish()
		w.waitTask()
	}
}

// waitTask returns once the worker has been given a task.
func (w *poolWorker) waitTask() {
	if spinUntil(func() bool { return w.state.Load() == workerBusy }) {
		return
	}
	if w.state.CompareAndSwap(workerIdle, workerParked) {
		<-w.wake
	}
}

// spinUntil calls done until it reports true, for at most poolSpin, and
// reports whether it did.
func spinUntil(done func() bool) bool {
	deadline := int64(0)
	for i := 0; ; i++ {
		if done() {
			return true
		}
		if i&63 == 63 {
			now := time.Now().UnixNano()
			if deadline == 0 {
				deadline = now + int64(poolSpin)
			} else if now > deadline {
				return false
			}
		}
	}
}
