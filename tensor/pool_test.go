package tensor

import "testing"

// TestPoolBestFit: a request with no free buffer of its length gets the
// smallest longer free one, cut to length, which goes back whole; the
// bytes in use count what was handed out, so they return to where they
// were.
func TestPoolBestFit(t *testing.T) {
	p := bufPool{free: map[int][][]float32{}}
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
	if p.inUse.Load() != 0 || len(p.free[200]) != 1 || len(p.free[300]) != 1 || len(p.free[150]) != 1 {
		t.Fatalf("after handing back: in use %d, free lists %v", p.inUse.Load(), map[int]int{150: len(p.free[150]), 200: len(p.free[200]), 300: len(p.free[300])})
	}
	if w := p.get(100); &w[0] != &a[0] {
		t.Fatal("an exact length did not get its own buffer")
	}
}
