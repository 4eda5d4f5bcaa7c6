package tensor

import (
	"math"
	"sync"
	"testing"
)

// precisionGraph runs one forward and backward through a small network
// whose parameters are marked with p (Linear, GELU, a batched MatMul of
// activations by a broadcast parameter, a view, sum of squares) and
// returns the loss and the parameters' gradients.
func precisionGraph(p Precision) (loss float32, grads [][]float32) {
	g := NewRNG(3)
	x := New(4, 8, 256)
	g.Normal(x, 0, 1)
	w1, b1 := New(256, 256), New(256)
	w2 := New(256, 64)
	params := []*Tensor{w1, b1, w2}
	for _, t := range params {
		g.Normal(t, 0, 0.06)
		t.SetRequiresGrad(true)
		t.SetPrecision(p)
	}
	h := GELU(Linear(x, w1, b1))
	y := MatMul(Reshape(h, 2, 16, 256), w2, false, false)
	l := Sum(Mul(y, y), false)
	Backward(l)
	for _, t := range params {
		grads = append(grads, append([]float32(nil), t.Grad()...))
	}
	return l.Data()[0], grads
}

// TestPrecisionBF16Marks checks that tensors marked PrecisionBF16 take
// every product of the graph (forward, and both products of each
// backward) in bfloat16 on the float32 backend: the loss and gradients
// are those of the whole graph run on the CPUBF16 backend, bit for bit
// (same kernels), and differ from float32's (by about 1e-4 of the loss:
// bfloat16 rounding). An unmarked graph on the float32 backend is
// float32's.
func TestPrecisionBF16Marks(t *testing.T) {
	lf, gf := precisionGraph(PrecisionF32)
	lm, gm := precisionGraph(PrecisionBF16)
	old := SetBackend(CPUBF16())
	lb, gb := precisionGraph(PrecisionF32)
	SetBackend(old)
	t.Logf("loss float32 %.7g, marked bf16 %.7g, bf16 backend %.7g", lf, lm, lb)
	if lm != lb {
		t.Errorf("loss of the marked graph %.9g, of the bf16 backend %.9g: want the same", lm, lb)
	}
	if rel := math.Abs(float64(lm-lf)) / math.Abs(float64(lf)); rel == 0 || rel > 2e-3 {
		t.Errorf("marked loss %.9g vs float32 %.9g: relative %.3g, want in (0, 2e-3]", lm, lf, rel)
	}
	for i := range gm {
		same, sameF32 := true, true
		for j := range gm[i] {
			same = same && gm[i][j] == gb[i][j]
			sameF32 = sameF32 && gm[i][j] == gf[i][j]
		}
		if !same {
			t.Errorf("gradient %d of the marked graph differs from the bf16 backend's", i)
		}
		if sameF32 {
			t.Errorf("gradient %d of the marked graph is float32's: not taken in bfloat16", i)
		}
	}
}

// TestPrecisionPropagates checks the marks ops' outputs take: the highest
// of their inputs', through views, elementwise ops and products.
func TestPrecisionPropagates(t *testing.T) {
	a, b := New(2, 3), New(2, 3)
	a.SetPrecision(PrecisionBF16)
	for _, c := range []struct {
		what string
		out  *Tensor
		want Precision
	}{
		{"a", a, PrecisionBF16},
		{"b", b, PrecisionF32},
		{"b+a", Add(b, a), PrecisionBF16},
		{"a+b", Add(a, b), PrecisionBF16},
		{"b+b", Add(b, b), PrecisionF32},
		{"reshape(a)", Reshape(a, 3, 2), PrecisionBF16},
		{"gelu(a)", GELU(a), PrecisionBF16},
		{"b·aᵀ", MatMul(b, a, false, true), PrecisionBF16},
		{"a.Detach()", a.Detach(), PrecisionBF16},
	} {
		if got := c.out.Precision(); got != c.want {
			t.Errorf("%s: precision %v, want %v", c.what, got, c.want)
		}
	}
	if p, err := ParsePrecision("bf16"); err != nil || p != PrecisionBF16 || p.String() != "bf16" {
		t.Errorf("ParsePrecision(bf16) = %v, %v", p, err)
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Errorf("ParsePrecision(fp16): no error")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("SetPrecision on an op's output: no panic")
		}
	}()
	Add(a, b).SetPrecision(PrecisionF32)
}

// TestPrecisionConcurrent runs a marked and an unmarked graph at once on
// several goroutines: each gets its own precision's results, bit for bit
// (no process-wide switch).
func TestPrecisionConcurrent(t *testing.T) {
	wantF, _ := precisionGraph(PrecisionF32)
	wantB, _ := precisionGraph(PrecisionBF16)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 8; i++ {
		p := Precision(i % 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				l, _ := precisionGraph(p)
				if want := map[Precision]float32{PrecisionF32: wantF, PrecisionBF16: wantB}[p]; l != want {
					errs <- p.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for p := range errs {
		t.Errorf("a %s graph run beside others gave another loss than alone", p)
	}
}
