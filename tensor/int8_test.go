package tensor

import (
	"math"
	"slices"
	"testing"
)

// dequantized returns what ToInt8 stores for x's rows of length c: the
// int8 values (round half away from zero of v·127/max|row|) times the
// scale max|row|/127, computed here from the definition.
func dequantized(x []float32, c int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x)/c; r++ {
		row := x[r*c : (r+1)*c]
		var mx float32
		for _, v := range row {
			mx = max(mx, float32(math.Abs(float64(v))))
		}
		s := mx / 127
		for i, v := range row {
			if s == 0 {
				continue
			}
			out[r*c+i] = float32(math.Round(float64(v)/float64(s))) * s
		}
	}
	return out
}

// TestInt8Storage: ToInt8 keeps the tensor and stores int8 values with a
// scale per stored row (the largest magnitude of each row at ±127, an
// all-zero row at scale 0), transposed on request; ToFloat32 widens them
// to q·scale; float32 accessors refuse it; it takes no gradient; a
// non-finite value panics naming the row.
func TestInt8Storage(t *testing.T) {
	w := NewParam("w", 3, 5)
	NewRNG(1).Normal(w, 0, 1)
	src := slices.Clone(w.Data())
	copy(src[5:10], []float32{0, 0, 0, 0, 0}) // a zero row
	w.CopyFrom(src)
	want := dequantized(src, 5)
	w.ToInt8(false)
	if w.DType() != Int8 || w.RequiresGrad() || w.Name() != "w" || !slices.Equal(w.Shape(), []int{3, 5}) {
		t.Fatalf("after ToInt8: dtype %v, requires grad %v, name %q, shape %v", w.DType(), w.RequiresGrad(), w.Name(), w.Shape())
	}
	q, sc, tr := w.Int8()
	if tr || len(q) != 15 || len(sc) != 3 || sc[1] != 0 {
		t.Fatalf("Int8: %d values, scales %v, transposed %v", len(q), sc, tr)
	}
	for r := 0; r < 3; r++ {
		var mx int8
		for _, v := range q[r*5 : (r+1)*5] {
			mx = max(mx, v, -v)
		}
		if r != 1 && mx != 127 {
			t.Fatalf("row %d: largest |q| %d, want 127", r, mx)
		}
	}
	for i, v := range q {
		if got := float32(v) * sc[i/5]; got != want[i] {
			t.Fatalf("value %d: %v, want %v", i, got, want[i])
		}
	}
	mustPanic(t, "int8", func() { w.Data() })
	mustPanic(t, "int8", func() { w.CopyFrom(make([]float32, 15)) })
	mustPanic(t, "only Linear", func() { Add(w, w) })
	w.ToFloat32()
	if w.DType() != Float32 || !w.RequiresGrad() || !slices.Equal(w.Data(), want) {
		t.Fatalf("ToFloat32: dtype %v, requires grad %v, values %v, want %v", w.DType(), w.RequiresGrad(), w.Data(), want)
	}

	// Transposed: a scale per column of w.
	w.CopyFrom(src)
	w.ToInt8(true)
	q, sc, tr = w.Int8()
	if !tr || len(sc) != 5 {
		t.Fatalf("ToInt8(true): transposed %v, %d scales", tr, len(sc))
	}
	srcT := make([]float32, 15)
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			srcT[j*3+i] = src[i*5+j]
		}
	}
	wantT := dequantized(srcT, 3)
	for i, v := range q {
		if float32(v)*sc[i/3] != wantT[i] {
			t.Fatalf("transposed value %d: %v, want %v", i, float32(v)*sc[i/3], wantT[i])
		}
	}
	mustPanic(t, "no row views", func() { Rows(w, 1, 2) })
	w.ToFloat32()
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			if w.Data()[i*5+j] != wantT[j*3+i] {
				t.Fatal("ToFloat32 of transposed storage lost the layout")
			}
		}
	}
	// From bfloat16, through float32.
	w.CopyFrom(src)
	w.ToBF16(false)
	w.ToInt8(false)
	if w.DType() != Int8 {
		t.Fatalf("ToInt8 of a bfloat16 tensor: %v", w.DType())
	}
	w.ToBF16(false)
	if w.DType() != BFloat16 {
		t.Fatalf("ToBF16 of an int8 tensor: %v", w.DType())
	}
	bad := New(2, 3)
	bad.CopyFrom([]float32{1, 2, 3, 4, float32(math.Inf(1)), 6})
	mustPanic(t, "stored row 1", func() { bad.ToInt8(false) })
	mustPanic(t, "not a leaf", func() { Exp(New(2)).ToInt8(false) })

	// No columns: a zero scale per row, and the products still run.
	empty := New(3, 0)
	empty.ToInt8(false)
	s := NoGrad()
	defer s.End()
	y := Linear(s.Use(New(2, 0)), s.Use(empty), FromSlice([]float32{1, 2, 3}, 3))
	if !slices.Equal(y.Data(), []float32{1, 2, 3, 1, 2, 3}) {
		t.Fatalf("product with an empty int8 weight: %v, want the bias", y.Data())
	}
	if y := Linear(s.Use(New(2, 0)), Rows(empty, 1, 3), nil); !slices.Equal(y.Data(), []float32{0, 0, 0, 0}) || y.Dim(1) != 2 {
		t.Fatalf("product with rows of an empty int8 weight: %v", y)
	}
}

// TestInt8Products: Linear, MatMul, Embedding, Rows and NewCrossKV read
// int8 weights. Products of more rows than bf16GemvRows dequantize the
// weights into the float32 GEMM and equal it, bit for bit, over the
// dequantized weights (also block by block, and without the backend's
// int8 kernel); smaller ones run the int8 kernel, which scales each sum
// once: within 1e-6 of the sum of |terms| of the float32 product.
func TestInt8Products(t *testing.T) {
	g := NewRNG(2)
	const in, out = 48, 37
	w32 := New(out, in)
	g.Normal(w32, 0, 0.5)
	b := New(out)
	g.Normal(b, 0, 1)
	wq := FromSlice(dequantized(w32.Data(), in), out, in)
	w8 := New(out, in)
	w8.CopyFrom(w32.Data())
	w8.ToInt8(false)
	p8 := New(in, out) // (In, Out) for MatMul x·P, stored (Out, In)
	p8.CopyFrom(Transpose(w32, 0, 1).Data())
	p8.ToInt8(true)
	for _, rows := range []int{1, 5, bf16GemvRows, bf16GemvRows + 1, 100} {
		x := New(rows, in)
		g.Normal(x, 0, 1)
		check := func(what string, got, want *Tensor, exact bool) {
			t.Helper()
			xs, ws := x.Data(), wq.Data()
			for i, v := range want.Data() {
				gv := got.Data()[i]
				if exact && math.Float32bits(gv) != math.Float32bits(v) {
					t.Fatalf("rows %d: %s[%d] = %v, float32 over dequantized weights %v", rows, what, i, gv, v)
				}
				r, o := i/out, i%out
				var mag float64
				for j := 0; j < in; j++ {
					mag += math.Abs(float64(xs[r*in+j] * ws[o*in+j]))
				}
				if !exact && math.Abs(float64(gv-v)) > 1e-6*(mag+1) {
					t.Fatalf("rows %d: %s[%d] = %v, float32 over dequantized weights %v (|terms| %v)", rows, what, i, gv, v, mag)
				}
			}
		}
		exact := rows > bf16GemvRows
		check("Linear", Linear(x, w8, b), Linear(x, wq, b), exact)
		check("MatMul", MatMul(x, p8, false, false), MatMul(x, wq, false, true), exact)
		func() {
			defer SetBackend(SetBackend(plainBackend{CurrentBackend()}))
			check("Linear without the int8 kernel", Linear(x, w8, b), Linear(x, wq, b), true)
		}()
		// Rows 10..19 of the weight keep their scales.
		check("Linear of Rows", Linear(x, Rows(w8, 10, 20), nil), Linear(x, Rows(wq, 10, 20), nil), exact)
	}
	x := New(40, in)
	g.Normal(x, 0, 1)
	want := Linear(x, wq, b)
	func() {
		defer func(n int) { bf16WidenBlock = n }(bf16WidenBlock)
		bf16WidenBlock = 5 * in
		if got := Linear(x, w8, b); !slices.Equal(got.Data(), want.Data()) {
			t.Fatal("blockwise dequantization changed the product")
		}
	}()
	q8 := New(out, in)
	q8.CopyFrom(w32.Data())
	q8.ToInt8(true)
	mustPanic(t, "stored transposed", func() { Linear(x, q8, nil) })
	mustPanic(t, "only a·Sᵀ", func() { MatMul(x, w8, false, false) })
	mustPanic(t, "whole rows", func() { Reshape(w8, out*in) })

	tab := New(9, 4)
	g.Normal(tab, 0, 1)
	tq := dequantized(tab.Data(), 4)
	tab.ToInt8(false)
	ids := []int{3, 8, 0, 3}
	e := Embedding(tab, ids)
	for i, id := range ids {
		if !slices.Equal(e.Data()[i*4:(i+1)*4], tq[id*4:(id+1)*4]) {
			t.Fatalf("Embedding row %d: %v, want %v", i, e.Data()[i*4:(i+1)*4], tq[id*4:(id+1)*4])
		}
	}

	// Cross-attention keys and values: as from the dequantized weights.
	s := NoGrad()
	defer s.End()
	img := s.Use(New(2, 3, in))
	g.Normal(img, 0, 1)
	bv := New(out - 1)
	g.Normal(bv, 0, 1)
	k8, k32 := Rows(w8, 0, out-1), Rows(wq, 0, out-1)
	got := NewCrossKV(img, k8, bv, k8, bv, 4)
	ref := NewCrossKV(img, k32, bv, k32, bv, 4)
	if !slices.Equal(got.buf[:2*got.values()], ref.buf[:2*ref.values()]) {
		t.Fatal("NewCrossKV with int8 weights differs from the dequantized float32 weights")
	}
}

// TestInt8NoGradient: an int8 weight serves inference only.
func TestInt8NoGradient(t *testing.T) {
	w := NewParam("proj", 4, 6)
	NewRNG(3).Normal(w, 0, 1)
	w.ToInt8(false)
	x := NewParam("x", 2, 6)
	mustPanic(t, "no gradient flows through a weight stored in int8", func() { Linear(x, w, nil) })
	s := NoGrad()
	defer s.End()
	if y := Linear(s.Use(x), w, nil); y.RequiresGrad() || !InScope(y) {
		t.Fatal("a scoped product recorded")
	}
}
