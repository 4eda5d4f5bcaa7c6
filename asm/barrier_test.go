package asm

import (
	"sync"
	"testing"
	"time"
)

// TestSpinBarrier: no goroutine passes phase p before all have reached it,
// with goroutines that arrive late enough to make the others park.
func TestSpinBarrier(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		b := NewBarrier(n)
		const phases = 200
		arrived := make([][]int, phases) // per phase, goroutines that reached it
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range phases {
					if p%50 == g%50 {
						time.Sleep(200 * time.Microsecond) // late: the others park
					}
					mu.Lock()
					arrived[p] = append(arrived[p], g)
					mu.Unlock()
					b.Wait()
					mu.Lock()
					got := len(arrived[p])
					mu.Unlock()
					if got != n {
						t.Errorf("n=%d phase %d: goroutine %d passed with %d arrived", n, p, g, got)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
