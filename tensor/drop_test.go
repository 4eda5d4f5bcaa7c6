package tensor

import (
	"math"
	"strings"
	"testing"
)

// TestDropFreeInput: in a recorded graph, Drop hands back at once the
// values of an intermediate that only GELU (whose backward multiplies by
// the derivative it kept) consumed, directly or through a view, and the
// gradients are bit for bit those of a graph that kept them; the tensor's
// values are gone (reading them panics) and Release returns the pool to
// where it was. An intermediate whose own backward reads its values
// (Softmax) stays.
func TestDropFreeInput(t *testing.T) {
	md, ok := CurrentBackend().(MapDeriver)
	if !ok || !md.MapDerives(OpGELU) {
		t.Skip("the backend keeps no GELU derivative")
	}
	build := func(drop bool, view bool) (x, w *Tensor, freed, size int64) {
		x = NewParam("x", 6, 5)
		w = NewParam("w", 8, 5)
		for i := range x.Data() {
			x.Data()[i] = float32(math.Sin(float64(i))) * 2
		}
		for i := range w.Data() {
			w.Data()[i] = float32(math.Cos(float64(3*i))) / 2
		}
		h := Linear(x, w, nil) // (6, 8)
		in := h
		if view {
			in = Reshape(h, 3, 16)
		}
		g := GELU(in)
		size = 4 * int64(cap(h.Data())) // the pool counts a buffer's capacity
		before := PoolInUse()
		if drop {
			Drop(h)
		}
		freed = before - PoolInUse()
		if drop {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(r.(string), "dropped") {
						t.Fatalf("reading a dropped tensor's values: %v, want a panic naming Drop", r)
					}
				}()
				h.Data()
			}()
		}
		y := Sum(Mul(g, g), false)
		BackwardRelease(y, nil)
		return x, w, freed, size
	}
	for _, view := range []bool{false, true} {
		base := PoolInUse()
		x0, w0, _, _ := build(false, view)
		x1, w1, freed, size := build(true, view)
		if freed != size || size < 4*6*8 {
			t.Fatalf("view %v: Drop handed back %d bytes, want the pre-activation's buffer (%d bytes, 192 used)", view, freed, size)
		}
		for _, p := range [][2]*Tensor{{x0, x1}, {w0, w1}} {
			for i, g := range p[0].Grad() {
				if math.Float32bits(g) != math.Float32bits(p[1].Grad()[i]) {
					t.Fatalf("view %v: %s grad[%d] = %v after Drop, %v without", view, p[0].Name(), i, p[1].Grad()[i], g)
				}
			}
		}
		if PoolInUse() != base {
			t.Fatalf("view %v: %d pooled bytes in use after the graphs, %d before", view, PoolInUse(), base)
		}
	}

	// Softmax's backward reads its output: Drop leaves it.
	z := NewParam("z", 2, 4)
	copy(z.Data(), []float32{1, 2, 3, 4, -1, 0, 1, 2})
	s := Softmax(z)
	g := GELU(s)
	Drop(s)
	if s.dropped || s.released {
		t.Fatal("Drop handed back the values of a softmax that its backward reads")
	}
	y := Sum(g, false)
	Backward(y)
	Release(y)
}
