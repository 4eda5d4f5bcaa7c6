package tensor

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// plainBackend hides the optional kernels of the backend it wraps, so that
// the ops take their fallbacks.
type plainBackend struct{ Backend }

func rounded(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
	}
	return out
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("got panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

// TestBF16Storage: ToBF16 keeps the tensor (pointer, name, shape) and
// stores its rounded values, transposed on request; ToFloat32 widens them
// back exactly; SetBF16 stores given values; float32 accessors refuse a
// bfloat16 tensor; a bfloat16 tensor takes no gradient.
func TestBF16Storage(t *testing.T) {
	w := NewParam("w", 3, 5)
	NewRNG(1).Normal(w, 0, 1)
	want := rounded(w.Data())
	w.ToBF16(false)
	if w.DType() != BFloat16 || w.RequiresGrad() || w.Name() != "w" || !slices.Equal(w.Shape(), []int{3, 5}) {
		t.Fatalf("after ToBF16: dtype %v, requires grad %v, name %q, shape %v", w.DType(), w.RequiresGrad(), w.Name(), w.Shape())
	}
	h, tr := w.BF16()
	if tr || len(h) != 15 {
		t.Fatalf("BF16: %d values, transposed %v", len(h), tr)
	}
	for i, v := range h {
		if safetensors.BF16ToFloat32(v) != want[i] {
			t.Fatalf("value %d: %v, want %v", i, safetensors.BF16ToFloat32(v), want[i])
		}
	}
	mustPanic(t, "bfloat16", func() { w.Data() })
	mustPanic(t, "bfloat16", func() { w.CopyFrom(make([]float32, 15)) })
	mustPanic(t, "only Linear", func() { Add(w, w) })
	w.ToFloat32()
	if w.DType() != Float32 || !w.RequiresGrad() || !slices.Equal(w.Data(), want) {
		t.Fatalf("ToFloat32: dtype %v, requires grad %v, values %v, want %v", w.DType(), w.RequiresGrad(), w.Data(), want)
	}
	w.ToBF16(true)
	h, tr = w.BF16()
	if !tr {
		t.Fatal("ToBF16(true): not stored transposed")
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			if safetensors.BF16ToFloat32(h[j*3+i]) != want[i*5+j] {
				t.Fatalf("transposed storage: element (%d, %d) wrong", i, j)
			}
		}
	}
	mustPanic(t, "no row views", func() { Rows(w, 1, 2) })
	w.ToFloat32()
	if !slices.Equal(w.Data(), want) {
		t.Fatal("ToFloat32 of transposed storage lost the layout")
	}
	vals := []uint16{1, 2, 3, 4, 5, 6}
	e := New(2, 3)
	e.SetBF16(vals, false)
	if h, _ := e.BF16(); !slices.Equal(h, vals) {
		t.Fatal("SetBF16 did not store the values")
	}
	mustPanic(t, "not a leaf", func() { Exp(New(2)).ToBF16(false) })
}

// TestBF16Products: Linear, MatMul and Embedding read bfloat16 weights.
// Products of more rows than bf16GemvRows widen the weights into the
// float32 GEMM and equal it, bit for bit, over the rounded weights (also
// with the widening done block by block); smaller ones run the bfloat16
// kernel, within 1e-6 (relative to the sum of |terms|) of it; both paths
// work without the backend's bfloat16 kernels.
func TestBF16Products(t *testing.T) {
	g := NewRNG(2)
	const in, out = 48, 37
	w32 := New(out, in)
	g.Normal(w32, 0, 0.5)
	b := New(out)
	g.Normal(b, 0, 1)
	wr := FromSlice(rounded(w32.Data()), out, in)
	w16 := New(out, in)
	w16.CopyFrom(w32.Data())
	w16.ToBF16(false)
	p16 := New(in, out) // (In, Out) for MatMul x·P, stored (Out, In)
	p16.CopyFrom(Transpose(w32, 0, 1).Data())
	p16.ToBF16(true)
	for _, rows := range []int{1, 5, bf16GemvRows, bf16GemvRows + 1, 100} {
		x := New(rows, in)
		g.Normal(x, 0, 1)
		check := func(what string, got, want *Tensor, exact bool) {
			t.Helper()
			for i, v := range want.Data() {
				gv := got.Data()[i]
				if exact && math.Float32bits(gv) != math.Float32bits(v) {
					t.Fatalf("rows %d: %s[%d] = %v, float32 over rounded weights %v", rows, what, i, gv, v)
				}
				if !exact && math.Abs(float64(gv-v)) > 1e-6*(float64(in)*2+1) {
					t.Fatalf("rows %d: %s[%d] = %v, float32 over rounded weights %v", rows, what, i, gv, v)
				}
			}
		}
		exact := rows > bf16GemvRows
		check("Linear", Linear(x, w16, b), Linear(x, wr, b), exact)
		// p16 stores Pᵀ (Out, In), the layout of wr: its widened product
		// is x·wrᵀ, which the kernels for x·Wᵀ (AVX-512's dot form) may sum
		// in another order than x·P with P stored (In, Out).
		check("MatMul", MatMul(x, p16, false, false), MatMul(x, wr, false, true), exact)
		func() {
			defer SetBackend(SetBackend(plainBackend{CurrentBackend()}))
			check("Linear without the bfloat16 kernels", Linear(x, w16, b), Linear(x, wr, b), true)
		}()
	}
	// Widening block by block gives the same bits.
	x := New(40, in)
	g.Normal(x, 0, 1)
	want := Linear(x, wr, b)
	func() {
		defer func(n int) { bf16WidenBlock = n }(bf16WidenBlock)
		bf16WidenBlock = 5 * in
		got := Linear(x, w16, b)
		if !slices.Equal(got.Data(), want.Data()) {
			t.Fatal("blockwise widening changed the product")
		}
	}()
	q := New(out, in)
	q.CopyFrom(w32.Data())
	q.ToBF16(true)
	mustPanic(t, "stored transposed", func() { Linear(x, q, nil) })
	mustPanic(t, "only a·Sᵀ", func() { MatMul(x, w16, false, false) })

	tab := New(9, 4)
	g.Normal(tab, 0, 1)
	tr := rounded(tab.Data())
	tab.ToBF16(false)
	e := Embedding(tab, []int{3, 8, 0, 3})
	for i, id := range []int{3, 8, 0, 3} {
		if !slices.Equal(e.Data()[i*4:(i+1)*4], tr[id*4:(id+1)*4]) {
			t.Fatalf("Embedding row %d: %v, want %v", i, e.Data()[i*4:(i+1)*4], tr[id*4:(id+1)*4])
		}
	}
	r := Rows(w16, 2, 5)
	if h, _ := r.BF16(); len(h) != 3*in || h[0] != func() uint16 { h, _ := w16.BF16(); return h[2*in] }() {
		t.Fatal("Rows of a bfloat16 tensor: wrong values")
	}
}

// TestBF16NoGradient: a bfloat16 weight serves inference only: a product
// whose input requires gradients panics naming bfloat16 outside a no-grad
// scope, and runs inside one.
func TestBF16NoGradient(t *testing.T) {
	w := NewParam("proj", 4, 6)
	w.ToBF16(false)
	x := NewParam("x", 2, 6)
	mustPanic(t, "bfloat16", func() { Linear(x, w, nil) })
	s := NoGrad()
	defer s.End()
	if y := Linear(s.Use(x), w, nil); y.RequiresGrad() || !InScope(y) {
		t.Fatal("a scoped product recorded")
	}
}

// TestFillRows checks that every row of out gets the bias, on one
// goroutine's rows or split between several, and that nothing past the
// rows is written.
func TestFillRows(t *testing.T) {
	for _, n := range []int{1, 5, 64, 255, 256, 257, 768} {
		for _, rows := range []int{1, 2, 3, 7, 100, 833, 4001} {
			bias := make([]float32, n)
			for i := range bias {
				bias[i] = float32(i + 1)
			}
			out := make([]float32, rows*n+3)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			fillRows(out[:rows*n], bias, rows, n)
			for r := range rows {
				for j, v := range out[r*n : (r+1)*n] {
					if v != bias[j] {
						t.Fatalf("n=%d rows=%d: out[%d][%d] = %v, want %v", n, rows, r, j, v, bias[j])
					}
				}
			}
			for i, v := range out[rows*n:] {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("n=%d rows=%d: wrote %v past the rows (+%d)", n, rows, v, i)
				}
			}
		}
	}
}
