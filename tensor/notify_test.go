package tensor

import (
	"slices"
	"testing"
)

// TestBackwardNotify: every parameter is reported once, and when it is
// reported its gradient already has its final value.
func TestBackwardNotify(t *testing.T) {
	a := NewParam("a", 2, 3)
	b := NewParam("b", 3)
	c := NewParam("c", 2) // read through a view only
	unused := NewParam("unused", 4)
	for i := range a.Data() {
		a.Data()[i] = float32(i) - 2.5
	}
	for i := range b.Data() {
		b.Data()[i] = 0.5 * float32(i+1)
	}
	c.Data()[0], c.Data()[1] = 3, -1
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	// y = Σ (a·x + b) ⊙ a  +  Σ reshape(c)·b[:2]   (a read twice, far apart)
	h := Mul(Add(Mul(a, x), b), a)
	y := Add(Sum(h, false), Sum(Mul(Reshape(c, 2), Slice(b, 0, 0, 2)), false))
	seen := map[string][]float32{}
	var order []string
	BackwardNotify(y, func(p *Tensor) {
		if _, dup := seen[p.Name()]; dup {
			t.Errorf("%s reported twice", p.Name())
		}
		seen[p.Name()] = slices.Clone(p.Grad())
		order = append(order, p.Name())
	})
	for _, p := range []*Tensor{a, b, c} {
		got, ok := seen[p.Name()]
		if !ok {
			t.Fatalf("%s not reported (order %v)", p.Name(), order)
		}
		if !slices.Equal(got, p.Grad()) {
			t.Errorf("%s reported with gradient %v, final %v", p.Name(), got, p.Grad())
		}
	}
	if _, ok := seen["unused"]; ok {
		t.Errorf("a parameter outside the graph was reported")
	}
	// x is a leaf that needs no gradient: not reported.
	if len(order) != 3 {
		t.Errorf("reported %v, want a, b, c", order)
	}
	// d/dc_i = b_i.
	if g := c.Grad(); g[0] != 0.5 || g[1] != 1 {
		t.Errorf("grad c = %v", g)
	}
	_ = unused
	Release(y)
}
