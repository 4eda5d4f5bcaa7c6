package tensor

import (
	"runtime"
	"sync"
)

// parallelFor splits [0, n) into at most GOMAXPROCS contiguous chunks and runs
// fn on each, on the calling goroutine when the work is small. cost is the
// approximate work per item (in flops); work under ~64k flops stays serial.
func parallelFor(n int, cost int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p <= 1 || n*cost < 1<<16 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(p - 1)
	for w := 1; w < p; w++ {
		lo, hi := w*n/p, (w+1)*n/p
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/p)
	wg.Wait()
}
