package asm

import (
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
