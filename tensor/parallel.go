package tensor

import "github.com/gococa/gococa/asm"

// parallelFor splits [0, n) into at most asm.Workers() contiguous chunks
// (one while the process is short of CPUs) and runs fn on each, on the
// calling goroutine when the work is small; fn's results must not depend on
// the split. cost is the approximate work per item (in flops); work under
// ~64k flops stays serial.
func parallelFor(n int, cost int, fn func(lo, hi int)) {
	p := asm.Workers()
	if p > n {
		p = n
	}
	if p <= 1 || n*cost < 1<<16 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	asm.Parallel(p, func(w int) {
		fn(w*n/p, (w+1)*n/p)
	})
}
