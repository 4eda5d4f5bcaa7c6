package asm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallel checks that every task of a region runs exactly once, that
// Parallel returns only after all have (their writes visible), with tasks
// that meet at a barrier, nested regions, regions started from several
// goroutines at once, and regions after the workers have parked.
func TestParallel(t *testing.T) {
	check := func(name string, n int) {
		counts := make([]int32, n)
		Parallel(n, func(i int) {
			time.Sleep(time.Duration(i%3) * time.Microsecond)
			counts[i]++ // plain write: Parallel's return must publish it
		})
		for i, c := range counts {
			if c != 1 {
				t.Fatalf("%s: n=%d: task %d ran %d times", name, n, i, c)
			}
		}
	}
	for _, n := range []int{0, 1, 2, 3, 8, 17} {
		for round := 0; round < 200; round++ {
			check("back to back", n)
		}
	}
	// After the idle workers have parked.
	time.Sleep(3 * poolSpin)
	check("after parking", 4)

	// Tasks that meet at a barrier each need a goroutine of their own.
	bar := NewBarrier(4)
	var sum atomic.Int32
	for round := 0; round < 50; round++ {
		sum.Store(0)
		Parallel(4, func(i int) {
			sum.Add(int32(i + 1))
			bar.Wait()
			if s := sum.Load(); s != 10 {
				t.Errorf("round %d task %d after the barrier: sum %d, want 10", round, i, s)
			}
			bar.Wait()
		})
	}

	// Nested regions.
	var mu sync.Mutex
	seen := map[[2]int]int{}
	Parallel(3, func(i int) {
		Parallel(3, func(j int) {
			mu.Lock()
			seen[[2]int{i, j}]++
			mu.Unlock()
		})
	})
	if len(seen) != 9 {
		t.Fatalf("nested: %d of 9 (i, j) pairs ran", len(seen))
	}
	for p, c := range seen {
		if c != 1 {
			t.Fatalf("nested: pair %v ran %d times", p, c)
		}
	}

	// Regions from several goroutines at once share the pool.
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 300; round++ {
				var local atomic.Int32
				Parallel(3, func(int) { local.Add(1) })
				if v := local.Load(); v != 3 {
					t.Errorf("concurrent regions: %d of 3 tasks had run at return", v)
					return
				}
				total.Add(3)
			}
		}()
	}
	wg.Wait()
	if total.Load() != 6*300*3 {
		t.Fatalf("concurrent regions: %d tasks, want %d", total.Load(), 6*300*3)
	}
	pool.mu.Lock()
	idle := len(pool.idle)
	pool.mu.Unlock()
	if idle > maxIdleWorkers {
		t.Fatalf("%d idle workers, more than the bound %d", idle, maxIdleWorkers)
	}
}

// forRanges runs parallelFor and returns how often each item was covered,
// failing on a range that is not a whole number of grains or runs past n.
func forRanges(t *testing.T, n, grain, workers int) []int32 {
	t.Helper()
	seen := make([]int32, n)
	var bad atomic.Value
	var busy [16]atomic.Int32 // per w: ranges in progress
	parallelFor(n, grain, workers, func(w, lo, hi int) {
		if busy[w].Add(1) != 1 {
			bad.Store(fmt.Sprintf("two ranges at once for w=%d", w))
		}
		if lo < 0 || hi > n || lo >= hi || lo%grain != 0 || (hi%grain != 0 && hi != n) || w < 0 || w >= workers {
			bad.Store(fmt.Sprintf("range [%d,%d) w=%d (n=%d grain=%d workers=%d)", lo, hi, w, n, grain, workers))
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&seen[i], 1)
		}
		busy[w].Add(-1)
	})
	if s := bad.Load(); s != nil {
		t.Fatal(s)
	}
	return seen
}

// TestParallelFor checks that every item is covered exactly once by whole
// grains, for every worker count, and that writes are visible on return.
func TestParallelFor(t *testing.T) {
	for _, n := range []int{1, 2, 7, 64, 1000} {
		for _, grain := range []int{1, 3, 16, 2000} {
			for workers := 1; workers <= 5; workers++ {
				for round := 0; round < 20; round++ {
					for i, c := range forRanges(t, n, grain, workers) {
						if c != 1 {
							t.Fatalf("n=%d grain=%d workers=%d: item %d covered %d times", n, grain, workers, i, c)
						}
					}
				}
			}
		}
	}
	ParallelFor(0, 1, 0, func(w, lo, hi int) { t.Fatal("called for n=0") })
	// Nested in Parallel and in itself.
	var total atomic.Int64
	Parallel(3, func(int) {
		ParallelFor(10, 1, 0, func(_, lo, hi int) {
			ParallelFor(hi-lo, 1, 0, func(_, lo2, hi2 int) { total.Add(int64(hi2 - lo2)) })
		})
	})
	if total.Load() != 30 {
		t.Fatalf("nested: %d items, want 30", total.Load())
	}
}

// TestParallelForCallsOffLateHelper: a helper that has not started when
// the ranges run out is called off; the call returns without waiting for it
// (the caller computes every range) and the helper then runs nothing.
func TestParallelForCallsOffLateHelper(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	hook := func() {
		started <- struct{}{}
		<-release
	}
	helperStartHook.Store(&hook)
	defer helperStartHook.Store(nil)
	resetContention()
	var onHelper atomic.Int32
	returned := make(chan struct{})
	go func() {
		parallelFor(100, 1, 2, func(w, lo, hi int) {
			if w != 0 {
				onHelper.Add(1)
			}
			time.Sleep(time.Duration(hi-lo) * lateStart / 50)
		})
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("ParallelFor waited for a helper that had not started")
	}
	// 100 items of ≥ lateStart/50 each took twice lateStart without the helper
	// (checked at once: a sign holds only contendedHold).
	if !Contended() {
		t.Fatal("a long region without its helper did not mark the process contended")
	}
	if Workers() != 1 {
		t.Fatalf("Workers() = %d while contended, want 1", Workers())
	}
	<-started // the helper did get its task, late
	close(release)
	time.Sleep(10 * time.Millisecond)
	if n := onHelper.Load(); n != 0 {
		t.Fatalf("a called-off helper computed %d ranges", n)
	}
	resetContention()
	if Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Workers() = %d, want GOMAXPROCS %d", Workers(), runtime.GOMAXPROCS(0))
	}
}

// TestParallelForWaitsForRunningHelper: a range already claimed by a helper
// is waited for, through the parked path, and its writes are visible.
func TestParallelForWaitsForRunningHelper(t *testing.T) {
	helped := 0
	for round := 0; round < 5; round++ {
		resetContention()
		var claimed atomic.Bool
		x := make([]int, 2)
		parallelFor(2, 1, 2, func(w, lo, hi int) {
			if w != 0 {
				claimed.Store(true)
				time.Sleep(2 * poolSpin) // longer than the caller spins
				x[lo] = 1 + lo
				return
			}
			// Give the helper time to claim the other range.
			for i := 0; i < 1000 && hi-lo == 1 && !claimed.Load(); i++ {
				time.Sleep(time.Microsecond)
			}
			for i := lo; i < hi; i++ {
				x[i] = 1 + i
			}
		})
		if x[0] != 1 || x[1] != 2 {
			t.Fatalf("round %d: %v after return, want [1 2]", round, x)
		}
		if claimed.Load() {
			helped++
		}
	}
	resetContention()
	if helped == 0 {
		t.Fatal("in 5 rounds the helper never claimed a range: nothing was tested")
	}
}

// TestContendedSingleGoroutine: while contended, ParallelFor computes
// everything on the caller, as one range.
func TestContendedSingleGoroutine(t *testing.T) {
	markContended(now())
	defer resetContention()
	calls := 0
	ParallelFor(1000, 7, 0, func(w, lo, hi int) {
		calls++ // plain write: all on the caller
		if w != 0 || lo != 0 || hi != 1000 {
			t.Errorf("contended: range [%d,%d) on w=%d, want [0,1000) on the caller", lo, hi, w)
		}
	})
	if calls != 1 {
		t.Fatalf("contended: %d calls, want 1", calls)
	}
}

// TestSpinGapMarksContention: a spin that was off its CPU for longer than
// spinGap marks the process contended. The gap is simulated by sleeping in
// the condition.
func TestSpinGapMarksContention(t *testing.T) {
	resetContention()
	defer resetContention()
	i := 0
	ok := spinUntil(func() bool {
		i++
		if i == 100 {
			time.Sleep(3 * spinGap)
		}
		return false
	})
	if ok || !Contended() {
		t.Fatalf("spinUntil after a gap: returned %v, contended %v; want false, true", ok, Contended())
	}
	// While contended, spins are short: the shortest of five (one spin
	// can lose its CPU for longer than poolSpin on a loaded machine or
	// under an emulator: 902µs once under qemu in CI).
	shortest := time.Hour
	for range 5 {
		t0 := time.Now()
		spinUntil(func() bool { return false })
		shortest = min(shortest, time.Since(t0))
	}
	if shortest > poolSpin/2 {
		t.Fatalf("the shortest of five contended spins lasted %v (contendedSpin %v, poolSpin %v)", shortest, contendedSpin, poolSpin)
	}
}

// TestParallelRunsUnstartedTasks: a task whose goroutine has not started it
// when the caller's own task is done runs on the caller; Parallel returns
// without waiting for that goroutine, which then runs nothing.
func TestParallelRunsUnstartedTasks(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	hook := func() {
		started <- struct{}{}
		<-release
	}
	helperStartHook.Store(&hook)
	defer helperStartHook.Store(nil)
	var ran [3]atomic.Int32
	var onCaller atomic.Int32
	returned := make(chan struct{})
	go func() {
		Parallel(3, func(i int) {
			ran[i].Add(1)
			if i != 0 {
				onCaller.Add(1) // every helper is held by the hook: only the caller runs tasks
			}
		})
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Parallel waited for helpers that had not started")
	}
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("task %d ran %d times before Parallel returned", i, n)
		}
	}
	if onCaller.Load() != 2 {
		t.Fatalf("%d of 2 unstarted tasks ran on the caller", onCaller.Load())
	}
	<-started
	<-started
	close(release)
	time.Sleep(10 * time.Millisecond)
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("task %d ran %d times after the helpers were released", i, n)
		}
	}
	resetContention()
}

// TestContendedHoldBacksOff: signs that come within recurWindow of the end
// of the previous hold, from the second in a row, double the hold, up to
// maxContendedHold; a later one halves it, and one after a quiet period of resetQuiet starts
// again at contendedHold; a sign during a hold extends it without
// changing its length. Times are synthetic (markContended's argument).
func TestContendedHoldBacksOff(t *testing.T) {
	resetContention()
	defer resetContention()
	t0 := now()
	expect := func(step string, at int64, h time.Duration) {
		t.Helper()
		if got := holdLen(); got != h {
			t.Fatalf("%s: hold %v, want %v", step, got, h)
		}
		if u := contendedUntil.Load(); u != at+int64(h) {
			t.Fatalf("%s: contended until %v after the sign, want %v", step, time.Duration(u-at), h)
		}
	}
	markContended(t0)
	expect("first sign", t0, contendedHold)

	// Signs that keep coming 5 ms after each hold: 20, 20, 40, 80, ...
	// ms, capped.
	at, h := t0, contendedHold
	for i := 0; i < 11; i++ {
		at = contendedUntil.Load() + int64(5*time.Millisecond)
		markContended(at)
		if i > 0 {
			h = min(2*h, maxContendedHold)
		}
		expect(fmt.Sprintf("recurring sign %d", i+1), at, h)
	}
	if h != maxContendedHold {
		t.Fatalf("10 recurring signs reached a hold of %v, want the cap %v", h, maxContendedHold)
	}

	// A sign during the hold extends it from that sign, same length.
	mid := at + int64(h)/2
	markContended(mid)
	expect("sign during a hold", mid, h)

	// A sign 200 ms after the hold: half as long.
	at = contendedUntil.Load() + int64(200*time.Millisecond)
	markContended(at)
	expect("sign 200 ms after", at, maxContendedHold/2)

	// A sign after a quiet second: back to the first hold.
	at = contendedUntil.Load() + int64(resetQuiet)
	markContended(at)
	expect("sign after a quiet period", at, contendedHold)

	// Halving never goes below the first hold.
	at = contendedUntil.Load() + int64(2*recurWindow)
	markContended(at)
	expect("late sign at the first hold", at, contendedHold)

	// A quick sign after a late one does not double the hold yet (an idle
	// machine's false signs come soon after a hold now and then); the
	// second quick one in a row does.
	at = contendedUntil.Load() + int64(5*time.Millisecond)
	markContended(at)
	expect("one quick sign after a late one", at, contendedHold)
	at = contendedUntil.Load() + int64(5*time.Millisecond)
	markContended(at)
	expect("two quick signs in a row", at, 2*contendedHold)
}

// TestSignsCounted: each kind of sign is counted by ContentionSigns and
// marks the process contended.
func TestSignsCounted(t *testing.T) {
	resetContention()
	defer resetContention()
	before := ContentionSigns()
	for k := 0; k < numSigns; k++ {
		sign(k, now())
	}
	if d := ContentionSigns() - before; d < numSigns {
		t.Fatalf("ContentionSigns grew by %d after %d signs (want at least that)", d, numSigns)
	}
	if !Contended() {
		t.Fatal("signs did not mark the process contended")
	}
}

// TestSideBySide: while goroutines run side by side, each parallel region
// gets its share of GOMAXPROCS: one goroutine at 4 ranks of 4, two at 2
// of 4; and the full count again once released.
func TestSideBySide(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	resetContention()
	maxW := func() int {
		var mu sync.Mutex
		top := -1
		ParallelFor(4000, 1, 0, func(w, lo, hi int) {
			mu.Lock()
			top = max(top, w)
			mu.Unlock()
			time.Sleep(20 * time.Microsecond) // let helpers join
		})
		return top + 1
	}
	release := SideBySide(4)
	if Workers() != 1 || procs() != 1 {
		t.Errorf("4 side by side of 4: Workers %d, procs %d; want 1", Workers(), procs())
	}
	if n := maxW(); n != 1 {
		t.Errorf("4 side by side of 4: a region used %d goroutines, want 1", n)
	}
	release()
	release() // a second call changes nothing
	release2 := SideBySide(2)
	resetContention() // a late helper above may have marked contention
	if Workers() != 2 {
		t.Errorf("2 side by side of 4: Workers %d, want 2", Workers())
	}
	if n := maxW(); n > 2 {
		t.Errorf("2 side by side of 4: a region used %d goroutines, want at most 2", n)
	}
	release2()
	resetContention()
	if Workers() != 4 {
		t.Errorf("released: Workers %d, want 4", Workers())
	}
}

// TestSideBySideConcurrent: goroutines declare and release side by side
// while others run parallel regions (under the race detector in CI); every
// region covers its range once, and the declarations all come undone.
func TestSideBySideConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				release := SideBySide(1 + g%3)
				var hits [300]atomic.Int32
				ParallelFor(len(hits), 7, 0, func(_, lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				release()
				for i := range hits {
					if n := hits[i].Load(); n != 1 {
						t.Errorf("item %d computed %d times", i, n)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := sideBySide.Load(); n != 0 {
		t.Errorf("%d declarations left after every release", n)
	}
}
