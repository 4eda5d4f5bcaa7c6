package asm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel regions run on pooled worker goroutines. A worker that finishes
// a task waits for the next one spinning for a short while before it
// parks, and so does a caller waiting for its workers: a training step of a
// small model runs thousands of parallel regions of a few microseconds
// each, back to back, and waking a parked goroutine (40-50 µs on a virtual
// machine) would cost more than the work it shares.
//
// Spinning pays only while every goroutine of the region has a CPU. When
// another process takes one of the cores, a spinning goroutine burns the
// time slices its peers need, and a region split in equal parts waits for
// the part whose thread is off its CPU (a whole time slice, milliseconds).
// So the pool watches for signs that the process is not getting its CPUs:
//
//   - a spinning goroutine sees a gap in its own progress (it was
//     descheduled in the middle of its spin);
//   - a helper starts its task long after the region began (its thread
//     was not running), or never starts before the region is over;
//   - the caller of ParallelFor waits for a helper much longer than its
//     own share of the work took.
//
// Each sign marks the process as contended for a while (contendedHold, or
// longer when the signs keep coming: see recurWindow). Meanwhile
// spins are cut to contendedSpin (waiters park almost at once and give
// their CPU back), ParallelFor runs every range on the caller, and
// Workers reports 1, so that computations which split their work
// statically can run on one goroutine instead of waiting for a peer that is
// off its CPU. When the hold expires, the next regions use helpers again
// (and mark the process contended again, for longer, if it still is).

// poolSpin is how long an idle worker, a caller waiting for its workers
// or a goroutine at a Barrier checks for its event before parking, while
// the process gets its CPUs. It must exceed the time a parked goroutine
// takes to wake up, which on a virtual machine (an inter-processor
// interrupt through the hypervisor) was measured at 40-50 µs: with a
// shorter spin a worker parks just before the next task comes, the task
// waits for the wake-up, the caller waits for the task, and a 2-way split
// of a 130 µs GEMM took 110 µs instead of 65. It is short enough that idle
// workers give their CPUs back within a millisecond once no more work
// comes.
const poolSpin = 500 * time.Microsecond

// contendedSpin replaces poolSpin while the process is contended.
const contendedSpin = 5 * time.Microsecond

// spinGap is the gap between two consecutive checks of a spin loop (which
// come about a microsecond apart) that shows the spinning goroutine was off
// its CPU. A process that competes for a core loses it for a scheduler
// time slice (milliseconds); shorter gaps (interrupts, a hypervisor's
// pauses) happen on an idle virtual machine too: at 50 µs an idle
// training step of coca_ViT-B-32 marked itself contended ~20 times.
const spinGap = 1 * time.Millisecond

// lateStart is how long after its region began a helper may start its
// task without showing contention: above the wake-up times of parked
// goroutines on an idle virtual machine (usually 40-50 µs, but a few
// hundred µs often enough that at 300 µs an idle training step marked
// itself contended ~70 times and ran 25-35% slower), below a scheduler
// time slice.
const lateStart = 1500 * time.Microsecond

// contendedHold is how long a sign of contention holds at first: the cost
// of a false sign on an idle machine (this long on one goroutine), and how
// soon a process that was contended once tries its helpers again.
const contendedHold = 20 * time.Millisecond

// Signs that keep coming soon after the previous hold expired (within
// recurWindow, twice in a row) show that the contention lasts: each
// further such sign doubles the hold, up to maxContendedHold. Trying the
// helpers again costs a contended process time (their wake-ups, and their
// ranges, wait for a CPU another process holds: on a 2-core machine with
// one core busy, a greedy caption on 2 goroutines with 20 ms holds took
// 1.35× as long as on 1), and it found the contention again 5-20 ms after
// the hold had expired, so under a steady load the holds grow to
// maxContendedHold and the helpers are tried about once a second. A sign
// later than recurWindow after the previous hold halves the next hold, and
// one after a quiet period of resetQuiet starts again at contendedHold.
// The false signs of an idle machine come soon after a hold too, but less
// often (on this shared 2-core machine under scripts/shield.sh, 5-9 per
// 2.9-s training step, 40% of them within recurWindow of the previous
// hold, against 85-90% with one core busy): asking for two in a row keeps
// their holds short.
const (
	recurWindow      = 50 * time.Millisecond
	maxContendedHold = 1 * time.Second
	resetQuiet       = 1 * time.Second
)

var epoch = time.Now()

// now returns monotonic nanoseconds.
func now() int64 { return int64(time.Since(epoch)) }

// contendedUntil is the now() until which the process counts as contended.
var contendedUntil atomic.Int64

// Kinds of contention signs (see the comment at the top of this file).
const (
	signSpinGap   = iota // a spinning goroutine was off its CPU
	signLateStart        // a helper started its task late
	signUnstarted        // a long region came and went without a helper
	signLongWait         // the caller waited long for a helper's range
	numSigns
)

// signCounts counts the signs of contention seen, by kind.
var signCounts [numSigns]atomic.Uint64

// ContentionSigns returns how many signs of contention the process has
// seen (a goroutine off its CPU while spinning, a helper starting late or
// not at all, a long wait for a helper): each one made the pool run on
// the caller alone for a while. On an idle machine every sign is a false
// one, and costs speed; benchmarks report the count.
func ContentionSigns() uint64 {
	var n uint64
	for i := range signCounts {
		n += signCounts[i].Load()
	}
	return n
}

// sign records a sign of contention of the given kind seen at time t.
func sign(kind int, t int64) {
	signCounts[kind].Add(1)
	markContended(t)
}

// hold is the current length of a hold (see recurWindow), changed under
// its lock when a sign comes after the previous hold has expired.
var hold struct {
	mu     sync.Mutex
	len    int64 // 0: contendedHold
	recurs int   // signs in a row within recurWindow of the previous hold
}

// markContended marks the process contended from time t, for the current
// hold length, which it first adapts when t is past the previous hold.
func markContended(t int64) {
	hold.mu.Lock()
	defer hold.mu.Unlock()
	h := max(hold.len, int64(contendedHold))
	u := contendedUntil.Load()
	if t >= u {
		switch gap := t - u; {
		case u > 0 && gap < int64(recurWindow):
			if hold.recurs++; hold.recurs >= 2 {
				h = min(2*h, int64(maxContendedHold))
			}
		case u == 0 || gap >= int64(resetQuiet):
			hold.recurs = 0
			h = int64(contendedHold)
		default:
			hold.recurs = 0
			h = max(h/2, int64(contendedHold))
		}
		hold.len = h
	}
	if t+h > u {
		contendedUntil.Store(t + h)
	}
}

// holdLen returns the length of the next hold that starts a contended
// period (tests).
func holdLen() time.Duration {
	hold.mu.Lock()
	defer hold.mu.Unlock()
	return time.Duration(max(hold.len, int64(contendedHold)))
}

// resetContention forgets every sign of contention (tests).
func resetContention() {
	hold.mu.Lock()
	defer hold.mu.Unlock()
	hold.len, hold.recurs = 0, 0
	contendedUntil.Store(0)
}

// isContended reports whether the process counts as contended at time t.
func isContended(t int64) bool { return t < contendedUntil.Load() }

// Workers reports how many goroutines a computation that splits its work
// statically (equal parts, meeting at a Barrier) should use now:
// GOMAXPROCS (its share while goroutines run SideBySide), or 1 while the
// process has recently shown signs of not getting its CPUs (another
// process busy on a core), when waiting for a peer that is off its CPU
// would cost more than the peer's share of the work. The answer affects speed only: kernels give the same results
// whatever the number of goroutines.
func Workers() int {
	if isContended(now()) {
		return 1
	}
	return procs()
}

// sideBySide is the number of goroutines declared (SideBySide) to run
// computations of their own at the same time; 0 or 1: none.
var sideBySide atomic.Int32

// SideBySide declares that n goroutines of the process are about to run
// computations of their own at the same time, each on its share of the
// CPUs: data-parallel ranks in one process, for one. Until release is
// called, every parallel region (of any goroutine) uses at most
// GOMAXPROCS/n goroutines, at least one, so that the n computations do not
// wait for pooled helpers that the others keep off the CPUs. Declarations
// add up; release must be called once. It changes how many goroutines
// compute, never a result: kernels give the same results whatever that
// number.
func SideBySide(n int) (release func()) {
	n = max(n, 1)
	sideBySide.Add(int32(n))
	var once sync.Once
	return func() { once.Do(func() { sideBySide.Add(-int32(n)) }) }
}

// procs is how many goroutines a parallel region may use: GOMAXPROCS, or
// its share while goroutines run side by side (SideBySide).
func procs() int {
	p := runtime.GOMAXPROCS(0)
	if n := int(sideBySide.Load()); n > 1 {
		p = max(1, p/n)
	}
	return p
}

// Contended reports whether the process currently counts as short of CPUs
// (see Workers).
func Contended() bool { return isContended(now()) }

// spinUntil calls done until it reports true, for at most the current
// spin budget (poolSpin, or contendedSpin while contended), and reports
// whether it did. A spin that finds it was descheduled (a gap of spinGap
// between two checks) marks the process contended and gives up.
func spinUntil(done func() bool) bool {
	start := now()
	budget := int64(poolSpin)
	if isContended(start) {
		budget = int64(contendedSpin)
	}
	last := start
	for i := 0; ; i++ {
		if done() {
			return true
		}
		if i&63 == 63 {
			t := now()
			if t-last > int64(spinGap) {
				sign(signSpinGap, t)
				return false
			}
			if t-start > budget {
				return false
			}
			last = t
		}
	}
}

// poolTask is the work handed to a pooled worker: run(t) is task t,
// finish(t) is called once the worker is back in the pool.
type poolTask interface {
	run(t int)
	finish(t int)
}

// Parallel runs fn(0), ..., fn(n-1) and returns when all have returned.
// fn(0) runs on the calling goroutine, each of the others on a goroutine
// of its own, so tasks may wait for each other (at a barrier); calls may
// nest. Once fn(0) has returned, the caller itself runs any task whose
// goroutine has not started it yet (its thread may be off its CPU), so a
// region split in equal parts does not wait a whole time slice for a part
// nobody has begun. This never deadlocks: a task runs on the caller only
// after the caller's own task has finished, and a task that waits for
// another is waiting for one that has started, or that its own goroutine
// will start. Use ParallelFor for work that can be claimed in ranges.
func Parallel(n int, fn func(t int)) {
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	r := &parRegion{fn: fn, start: now()}
	var local [8]forSlot
	if n-1 <= len(local) {
		r.slots = local[:n-1]
	} else {
		r.slots = make([]forSlot, n-1)
	}
	handOut(r, 1, n)
	fn(0)
	joinSlots(r.slots, r.start, &r.wake, func(t int) { fn(t) })
}

// parRegion is one call of Parallel; task t ≥ 1 uses slots[t-1].
type parRegion struct {
	fn    func(int)
	start int64
	slots []forSlot
	wake  chan struct{}
}

func (r *parRegion) run(t int) {
	if h := helperStartHook.Load(); h != nil {
		(*h)()
	}
	if !r.slots[t-1].state.CompareAndSwap(slotPending, slotRunning) {
		return // run by the caller
	}
	if d := now() - r.start; d > int64(lateStart) {
		sign(signLateStart, r.start+d)
	}
	r.fn(t)
}

func (r *parRegion) finish(t int) { finishSlot(&r.slots[t-1].state, &r.wake) }

// ParallelFor calls fn(w, lo, hi) for disjoint ranges [lo, hi) that
// together cover [0, n), each a whole number of grains (grain items; the
// last range ends at n), on the calling goroutine and on at most
// maxWorkers-1 pooled helpers (maxWorkers ≤ 0: GOMAXPROCS, or its share
// while goroutines run SideBySide), and returns
// when every range has been computed, its writes visible to the caller.
// w identifies the goroutine running the range, 0 for the caller, below
// the number of goroutines used; no two calls with the same w overlap, so
// w can index per-goroutine scratch.
//
// The ranges are claimed one at a time as goroutines become free, large
// ones first (each about a 2·workers-th of what is left) and single grains
// at the end, so a fast goroutine takes what a slow one leaves. A helper
// that has not started when the ranges run out is called off: the call
// waits only for ranges already being computed. While the process is
// contended (see Workers) the caller computes everything, as one range.
// fn may call Parallel or ParallelFor.
func ParallelFor(n, grain, maxWorkers int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	workers := min(chunks, procs())
	if maxWorkers > 0 {
		workers = min(workers, maxWorkers)
	}
	parallelFor(n, grain, workers, fn)
}

// helperStartHook, when set (tests), is called by a Parallel or
// ParallelFor helper before it claims its task.
var helperStartHook atomic.Pointer[func()]

// parallelFor is ParallelFor on exactly workers goroutines (fewer while
// contended).
func parallelFor(n, grain, workers int, fn func(w, lo, hi int)) {
	start := now()
	if workers <= 1 || isContended(start) {
		fn(0, 0, n)
		return
	}
	r := &forRegion{fn: fn, n: n, grain: grain, chunks: (n + grain - 1) / grain, workers: workers, start: start}
	var local [8]forSlot
	if workers-1 <= len(local) {
		r.slots = local[:workers-1]
	} else {
		r.slots = make([]forSlot, workers-1)
	}
	handOut(r, 1, workers)
	r.work(0)
	r.join()
}

// Helper slot states of a forRegion.
const (
	slotPending   = iota // handed to a worker that has not started it
	slotRunning          // claimed by its worker
	slotWaited           // claimed; the caller has parked waiting for it
	slotDone             // its worker has finished
	slotCancelled        // called off by the caller before it started
)

type forSlot struct{ state atomic.Int32 }

// forRegion is one call of ParallelFor.
type forRegion struct {
	fn              func(w, lo, hi int)
	n, grain        int
	chunks, workers int
	start           int64
	next            atomic.Int64 // first unclaimed chunk
	slots           []forSlot    // helper t uses slots[t-1]
	wake            chan struct{}
}

// work claims and computes ranges until none is left.
func (r *forRegion) work(w int) {
	div := int64(2 * r.workers)
	for {
		cur := r.next.Load()
		left := int64(r.chunks) - cur
		if left <= 0 {
			return
		}
		take := max(1, left/div)
		if !r.next.CompareAndSwap(cur, cur+take) {
			continue
		}
		r.fn(w, int(cur)*r.grain, min(int(cur+take)*r.grain, r.n))
	}
}

func (r *forRegion) run(t int) {
	if h := helperStartHook.Load(); h != nil {
		(*h)()
	}
	if !r.slots[t-1].state.CompareAndSwap(slotPending, slotRunning) {
		return // called off
	}
	if d := now() - r.start; d > int64(lateStart) {
		sign(signLateStart, r.start+d)
	}
	r.work(t)
}

func (r *forRegion) finish(t int) { finishSlot(&r.slots[t-1].state, &r.wake) }

// join returns once no helper of r computes a range: it calls off those
// that have not started and waits for the others.
func (r *forRegion) join() { joinSlots(r.slots, r.start, &r.wake, nil) }

// finishSlot marks a helper's slot done, waking the caller if it has
// parked waiting for it (on *wake, which the caller sets before it marks
// the slot waited).
func finishSlot(s *atomic.Int32, wake *chan struct{}) {
	for {
		switch st := s.Load(); st {
		case slotCancelled:
			return
		case slotRunning:
			if s.CompareAndSwap(slotRunning, slotDone) {
				return
			}
		case slotWaited:
			s.Store(slotDone)
			*wake <- struct{}{}
			return
		default:
			panic("asm: parallel helper finished twice")
		}
	}
}

// joinSlots is the caller's end of a region that began at start, after its
// own share: each helper task that has not started is taken from its
// helper (slot cancelled) and run by the caller with steal(t) (or dropped
// when steal is nil), and the caller waits for the others, spinning, then
// parked on *wake. A region that lasted more than lateStart while a helper
// had not started, or a wait much longer than the caller's own share,
// marks the process contended.
func joinSlots(slots []forSlot, start int64, wake *chan struct{}, steal func(t int)) {
	t := now()
	busy := t - start // the caller's share of the work
	for i := range slots {
		s := &slots[i].state
		if s.CompareAndSwap(slotPending, slotCancelled) {
			if busy > int64(lateStart) {
				sign(signUnstarted, t) // a long region came and went without it
			}
			if steal != nil {
				steal(i + 1)
			}
			continue
		}
		if s.Load() == slotDone {
			continue
		}
		w0 := now()
		if !spinUntil(func() bool { return s.Load() == slotDone }) {
			if *wake == nil {
				*wake = make(chan struct{}, 1)
			}
			if s.CompareAndSwap(slotRunning, slotWaited) {
				<-*wake
			}
		}
		// A helper holds one range (or task) at the end: a wait much
		// longer than the caller's whole share means its thread was off
		// its CPU.
		if t := now(); t-w0 > busy+int64(lateStart) {
			sign(signLongWait, t)
		}
	}
}

// Worker states.
const (
	workerIdle   = iota // in the pool, spinning
	workerParked        // in the pool, blocked on wake
	workerBusy          // given a task; set after task and t
)

type poolWorker struct {
	state atomic.Int32
	wake  chan struct{}
	task  poolTask
	t     int
}

var pool struct {
	mu   sync.Mutex
	idle []*poolWorker
}

// maxIdleWorkers bounds the pool; a worker finding it full exits.
const maxIdleWorkers = 64

// handOut gives tasks from..to-1 of task to idle workers, starting new
// ones when the pool has too few.
func handOut(task poolTask, from, to int) {
	var local [8]*poolWorker
	ws := takeWorkers(local[:0], to-from)
	for i, w := range ws {
		w.task, w.t = task, from+i
		if w.state.Swap(workerBusy) == workerParked {
			w.wake <- struct{}{}
		}
	}
	for t := from + len(ws); t < to; t++ {
		w := &poolWorker{wake: make(chan struct{}, 1), task: task, t: t}
		w.state.Store(workerBusy)
		go w.loop()
	}
}

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
		task, t := w.task, w.t
		task.run(t)
		w.task = nil
		w.state.Store(workerIdle)
		pool.mu.Lock()
		if len(pool.idle) >= maxIdleWorkers {
			pool.mu.Unlock()
			task.finish(t)
			return
		}
		pool.idle = append(pool.idle, w)
		pool.mu.Unlock()
		task.finish(t)
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
