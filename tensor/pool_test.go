package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolBestFit: a request with no free buffer of its length gets the
// smallest longer free one, cut to length, which goes back whole; the
// bytes in use count what was handed out, so they return to where they
// were.
func TestPoolBestFit(t *testing.T) {
	old := poolCPU
	poolCPU = func() int { return 1 }
	defer func() { poolCPU = old }()
	p := newPool()
	a, b, c := p.get(100), p.get(300), p.get(200)
	p.put(a)
	p.put(b)
	p.put(c)
	if p.inUse.Load() != 0 {
		t.Fatalf("in use %d after handing everything back", p.inUse.Load())
	}
	x := p.get(150) // no 150: the 200 one
	if len(x) != 150 || cap(x) != 200 || &x[0] != &c[0] {
		t.Fatalf("get(150): len %d cap %d (want the free 200-value buffer)", len(x), cap(x))
	}
	if p.inUse.Load() != 200 {
		t.Fatalf("in use %d, want 200", p.inUse.Load())
	}
	y := p.get(150) // then the 300 one
	if cap(y) != 300 {
		t.Fatalf("second get(150): cap %d, want 300", cap(y))
	}
	z := p.get(150) // nothing longer left: a new buffer
	if cap(z) != 150 {
		t.Fatalf("third get(150): cap %d, want a new 150-value buffer", cap(z))
	}
	p.put(x)
	p.put(y)
	p.put(z)
	if p.inUse.Load() != 0 || p.freeLen(200) != 1 || p.freeLen(300) != 1 || p.freeLen(150) != 1 {
		t.Fatalf("after handing back: in use %d, free lists %v", p.inUse.Load(), map[int]int{150: p.freeLen(150), 200: p.freeLen(200), 300: p.freeLen(300)})
	}
	if w := p.get(100); &w[0] != &a[0] {
		t.Fatal("an exact length did not get its own buffer")
	}
}

// TestPoolGetExact: getExact takes a free buffer of its length (from any
// CPU's list) and never a longer one, which stays for get.
func TestPoolGetExact(t *testing.T) {
	old := poolCPU
	cpu := 1
	poolCPU = func() int { return cpu }
	defer func() { poolCPU = old }()
	p := newPool()
	a, b := p.get(100), p.get(300)
	p.put(a)
	p.put(b)
	cpu = 2
	if x := p.getExact(150); cap(x) != 150 || len(x) != 150 {
		t.Fatalf("getExact(150) with 100 and 300 free: len %d cap %d, want a new 150-value buffer", len(x), cap(x))
	}
	if x := p.getExact(100); &x[0] != &a[0] {
		t.Fatal("getExact(100) did not take the free 100-value buffer of another CPU")
	}
	if x := p.get(150); &x[0] != &b[0] {
		t.Fatal("get(150) did not take the 300-value buffer that getExact left")
	}
	if p.inUse.Load() != 150+100+300 {
		t.Fatalf("in use %d, want 550", p.inUse.Load())
	}
}

// TestPoolPerCPU: a buffer goes back to its CPU's free list, and a get
// takes its own CPU's buffer of that length first (the most recent), then
// another CPU's, and the smallest longer one of any CPU before a new one.
func TestPoolPerCPU(t *testing.T) {
	cpu := 0
	old := poolCPU
	poolCPU = func() int { return cpu }
	defer func() { poolCPU = old }()
	p := newPool()
	on := func(c int) { cpu = c }
	on(3)
	a, b, long := p.get(64), p.get(64), p.get(100)
	p.put(a) // CPU 3
	on(1)
	p.put(b) // CPU 1, more recent
	on(7)
	p.put(long)
	on(3)
	if x := p.get(64); &x[0] != &a[0] {
		t.Fatal("get on CPU 3 did not take CPU 3's buffer")
	}
	if x := p.get(64); &x[0] != &b[0] {
		t.Fatal("second get on CPU 3 did not take CPU 1's buffer")
	}
	x := p.get(64) // none of 64 left: CPU 7's longer one
	if &x[0] != &long[0] || len(x) != 64 || cap(x) != 100 {
		t.Fatalf("third get: len %d cap %d, want CPU 7's 100-value buffer", len(x), cap(x))
	}
	if y := p.get(64); cap(y) != 64 || &y[0] == &a[0] || &y[0] == &b[0] {
		t.Fatal("fourth get did not make a new buffer")
	}
	if p.freeLen(64) != 0 || p.freeLen(100) != 0 {
		t.Fatalf("free lists not empty: %d, %d", p.freeLen(64), p.freeLen(100))
	}
}

// TestPoolConcurrentBound: goroutines that get and hand back buffers of
// one size, each call on another CPU's list (the worst case for passes
// that miss a buffer moving between lists), never make more buffers than
// there are goroutines.
func TestPoolConcurrentBound(t *testing.T) {
	var calls atomic.Int64
	old := poolCPU
	poolCPU = func() int { return int(calls.Add(1)) }
	defer func() { poolCPU = old }()
	p := newPool()
	const workers, rounds = 4, 20000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				b := p.get(32)
				b[0]++
				p.put(b)
			}
		}()
	}
	wg.Wait()
	if n := p.freeLen(32); n < 1 || n > workers {
		t.Fatalf("%d buffers made for %d goroutines", n, workers)
	}
	if p.inUse.Load() != 0 {
		t.Fatalf("in use %d after every buffer came back", p.inUse.Load())
	}
}

// freeLen is the number of free buffers of length n.
func (p *bufPool) freeLen(n int) int {
	c := 0
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		c += len(s.free[n])
		s.mu.Unlock()
	}
	return c
}
