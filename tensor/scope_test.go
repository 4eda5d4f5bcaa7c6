package tensor

import (
	"math"
	"sync"
	"testing"
)

// TestScopeRecordsNothing: an op with an input of an open no-grad scope
// records nothing, though its other inputs are parameters, and its output
// belongs to the scope; after End the scope's tensors are plain constants
// and ops on them record again exactly when an input requires gradients.
func TestScopeRecordsNothing(t *testing.T) {
	w := NewParam("w", 3, 4)
	b := NewParam("b", 3)
	NewRNG(1).Normal(w, 0, 1)
	x := New(2, 4)
	NewRNG(2).Normal(x, 0, 1)

	s := NoGrad()
	xs := s.Use(x)
	if xs == x || &xs.Data()[0] != &x.Data()[0] {
		t.Fatal("Use: want a view sharing x's values")
	}
	if s.Use(xs) != xs {
		t.Fatal("Use of a tensor already in the scope: want the tensor itself")
	}
	y := Sum(GELU(Linear(xs, w, b)), false)
	if y.RequiresGrad() || y.inputs != nil || y.back != nil {
		t.Fatal("an op in a no-grad scope recorded a graph")
	}
	if ScopeOf(y) != s || !InScope(y) {
		t.Fatal("the output of an op in a scope does not belong to it")
	}
	// A parameter-only op outside any scope still records.
	if z := Exp(w); !z.RequiresGrad() || z.inputs == nil {
		t.Fatal("an op on a parameter outside a scope did not record")
	}
	s.End()
	if ScopeOf(y) != nil || InScope(y) {
		t.Fatal("End: the scope's tensors still belong to it")
	}
	// After End: y is a constant; an op with a parameter records again.
	z := Mul(y, Sum(w, false))
	if !z.RequiresGrad() || z.inputs == nil {
		t.Fatal("after End, an op with a parameter input did not record")
	}
	Backward(z)
	if w.Grad() == nil {
		t.Fatal("no gradient through an op that read an ended scope's tensor")
	}
	Release(z)
	// And an op on constants alone records nothing.
	if c := Add(x, x); c.RequiresGrad() || c.inputs != nil {
		t.Fatal("an op without gradient inputs recorded its inputs")
	}
	var nilScope *Scope
	if nilScope.Use(x) != x {
		t.Fatal("nil scope: Use must return its argument")
	}
	nilScope.End()
}

// TestScopeValuesMatch: the scope changes what is recorded, never the
// values.
func TestScopeValuesMatch(t *testing.T) {
	w := NewParam("w", 5, 6)
	NewRNG(3).Normal(w, 0, 1)
	x := New(4, 6)
	NewRNG(4).Normal(x, 0, 1)
	want := Softmax(Linear(x, w, nil))
	s := NoGrad()
	got := Softmax(Linear(s.Use(x), w, nil))
	s.End()
	for i, v := range want.Data() {
		if math.Float32bits(v) != math.Float32bits(got.Data()[i]) {
			t.Fatalf("value %d: %v in a scope, %v outside", i, got.Data()[i], v)
		}
	}
}

// TestDrop: Drop hands an unrecorded intermediate's buffer back at once
// (the next op of its size gets it), and leaves one that a recorded op
// holds for its backward, whose gradients stay right.
func TestDrop(t *testing.T) {
	s := NoGrad()
	defer s.End()
	x := s.Use(Full(1, 7, 13))
	h := Exp(x)
	buf := &h.data[0]
	Drop(h)
	if !h.released {
		t.Fatal("Drop did not release an intermediate of a scope")
	}
	if h2 := Exp(x); &h2.data[0] != buf {
		t.Fatal("the next op of that size did not reuse the dropped buffer")
	}
	Drop(x) // a view: nothing to hand back
	if x.released {
		t.Fatal("Drop released a view")
	}
	v := Full(2, 3)
	Drop(v)
	if v.released {
		t.Fatal("Drop released a tensor made with New")
	}

	// Training: the intermediate is read by Mul's backward.
	w := NewParam("w", 3)
	copy(w.Data(), []float32{1, 2, 3})
	e := Exp(w)
	y := Sum(Mul(e, e), false) // d/dw = 2·e^(2w)
	Drop(e)
	if e.released {
		t.Fatal("Drop released an intermediate a recorded op holds")
	}
	Backward(y)
	for i, g := range w.Grad() {
		want := 2 * math.Exp(2*float64(w.Data()[i]))
		if math.Abs(float64(g)-want) > 1e-5*want {
			t.Fatalf("grad %d = %v, want %v", i, g, want)
		}
	}
	Release(y)
	if !e.released {
		t.Fatal("Release of the graph did not release the held intermediate")
	}
}

// TestScopesConcurrent (run it with -race): goroutines share parameters,
// some running inference in their own scopes (dropping intermediates as
// they go), one training a graph on other parameters and releasing it;
// every inference result equals the sequential one bit for bit and no
// parameter is written by the inference goroutines.
func TestScopesConcurrent(t *testing.T) {
	g := NewRNG(5)
	shared := newBlock(g, 32)
	train := newBlock(g, 32)
	x := New(2, 9, 32)
	g.Normal(x, 0, 1)
	infer := func() []float32 {
		s := NoGrad()
		defer s.End()
		y := shared.forward(s.Use(x), 4)
		out := append([]float32(nil), y.Data()...)
		Drop(y)
		return out
	}
	want := infer()
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 4 {
		wg.Go(func() {
			for range 5 {
				got := infer()
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						errs <- "inference result changed under concurrency"
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			y := train.forward(x, 4)
			loss := Mean(Mul(y, y), false)
			BackwardRelease(loss, nil)
		}
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	for _, p := range shared.params() {
		if p.Grad() != nil {
			t.Fatal("scoped inference gave a shared parameter a gradient")
		}
	}
}
