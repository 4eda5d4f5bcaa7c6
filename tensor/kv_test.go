package tensor

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

// closeTo fails when |got − want| > tol·(1 + |want|) anywhere.
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]-want[i])) / (1 + math.Abs(float64(want[i])))
		if !(d <= tol) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
		worst = math.Max(worst, d)
	}
	if what != "" {
		t.Logf("%s: worst relative difference %.2g", what, worst)
	}
}

// lastRow returns row l−1 of each batch entry of x (B, L, W).
func lastRow(x *Tensor) []float32 {
	b, l, w := x.shape[0], x.shape[1], x.shape[2]
	var out []float32
	for i := 0; i < b; i++ {
		out = append(out, x.data[(i*l+l-1)*w:(i*l+l)*w]...)
	}
	return out
}

// TestKVCache: appending one position per step and attending with
// AttendKV gives, at every step, the last row of causal attention over the
// whole prefix (AttentionHeads on the packed projections: another kernel,
// so within 1e-6; measured 1.6e-7), with the backend's kernel and with the
// Gemm/Softmax fallback; Reorder moves and duplicates rows.
func TestKVCache(t *testing.T) {
	const b, l, heads, d = 3, 7, 4, 8
	w := heads * d
	g := NewRNG(1)
	qkv := New(b, l, 3*w) // each position's q, k, v side by side
	g.Normal(qkv, 0, 1)
	s := NoGrad()
	defer s.End()
	for _, fallback := range []bool{false, true} {
		func() {
			if fallback {
				defer SetBackend(SetBackend(plainBackend{CurrentBackend()}))
			}
			c := NewKVCache(b, heads, d, l)
			defer c.Release()
			for p := 0; p < l; p++ {
				step := s.Use(New(b, 1, 3*w))
				for i := 0; i < b; i++ {
					copy(step.data[i*3*w:(i+1)*3*w], qkv.data[(i*l+p)*3*w:(i*l+p+1)*3*w])
				}
				c.Append(step, w, 2*w)
				if c.Len() != p+1 {
					t.Fatalf("Len %d after %d appends", c.Len(), p+1)
				}
				got := AttendKV(step, 0, c)
				prefix := Slice(s.Use(qkv), 1, 0, p+1)
				want := AttentionHeads(prefix, 0, prefix, w, prefix, 2*w, heads, w, nil, true, 0)
				if p == l-1 {
					closeTo(t, map[bool]string{false: "cached attention", true: "fallback"}[fallback], got.Data(), lastRow(want), 1e-6)
				} else {
					closeTo(t, "", got.Data(), lastRow(want), 1e-6)
				}
			}
			// Rows 2, 0, 0: the next step's attention of each row is the
			// one of its source row.
			step := s.Use(New(b, 1, 3*w))
			g.Normal(step, 0, 1)
			before := AttendKV(step, 0, c).Data()
			c.Reorder([]int{2, 0, 0})
			moved := s.Use(New(3, 1, 3*w))
			for i, src := range []int{2, 0, 0} {
				copy(moved.data[i*3*w:(i+1)*3*w], step.data[src*3*w:(src+1)*3*w])
			}
			after := AttendKV(moved, 0, c).Data()
			for i, src := range []int{2, 0, 0} {
				if !slices.Equal(after[i*w:(i+1)*w], before[src*w:(src+1)*w]) {
					t.Fatalf("row %d after Reorder differs from former row %d", i, src)
				}
			}
		}()
	}
	c := NewKVCache(1, heads, d, 1)
	c.Release()
	mustPanic(t, "after Release", func() { c.Append(New(1, 1, 3*w), w, 2*w) })
	mustPanic(t, "inference only", func() {
		q := NewParam("q", b, 1, w)
		AttendKV(Exp(q), 0, NewKVCache(b, heads, d, 1))
	})
}

// TestCrossKV: keys and values computed once (transposed per head) and
// attended to one query at a time give cross-attention over the
// projections (AttentionHeads of Linear outputs; within 1e-6, measured
// 1.4e-7); with bfloat16 weights they are, bit for bit, those of the float32
// weights holding the rounded values.
func TestCrossKV(t *testing.T) {
	const b, tk, dkv, heads, d = 2, 9, 12, 2, 8
	w := heads * d
	g := NewRNG(2)
	x := New(b, tk, dkv)
	g.Normal(x, 0, 1)
	wk, wv, bk, bv := New(w, dkv), New(w, dkv), New(w), New(w)
	for _, p := range []*Tensor{wk, wv, bk, bv} {
		g.Normal(p, 0, 0.5)
	}
	q := New(b, 1, w)
	g.Normal(q, 0, 1)
	s := NoGrad()
	defer s.End()
	kv := NewCrossKV(s.Use(x), wk, bk, wv, bv, heads)
	defer kv.Release()
	got := AttendKV(s.Use(q), 0, kv)
	want := AttentionHeads(s.Use(q), 0, Linear(s.Use(x), wk, bk), 0, Linear(s.Use(x), wv, bv), 0, heads, w, nil, false, 0)
	closeTo(t, "cross attention", got.Data(), want.Data(), 1e-6)

	r16 := func(p *Tensor) (*Tensor, *Tensor) {
		a, h := New(p.shape...), New(p.shape...)
		a.CopyFrom(rounded(p.Data()))
		h.CopyFrom(p.Data())
		h.ToBF16(false)
		return a, h
	}
	rk, hk := r16(wk)
	rv, hv := r16(wv)
	k32 := NewCrossKV(s.Use(x), rk, bk, rv, bv, heads)
	k16 := NewCrossKV(s.Use(x), hk, bk, hv, bv, heads)
	if !slices.Equal(k32.buf, k16.buf) {
		t.Fatal("bfloat16 cross keys differ from float32 ones over the rounded weights")
	}
}

// TestGemmBF16Split: the CPU backend's bfloat16 product gives the same
// bits whatever number of goroutines share its outputs.
func TestGemmBF16Split(t *testing.T) {
	const m, n, k = 3, 1000, 256
	g := NewRNG(3)
	x, bias := New(m, k), New(n)
	g.Normal(x, 0, 1)
	g.Normal(bias, 0, 1)
	w := New(n, k)
	g.Normal(w, 0, 0.1)
	w.ToBF16(false)
	var ref []float32
	for _, procs := range []int{1, 2, 3, 5} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			y := Linear(x, w, bias).Data()
			if ref == nil {
				ref = slices.Clone(y)
			} else if !slices.Equal(y, ref) {
				t.Fatalf("GOMAXPROCS %d: the product differs from one thread's", procs)
			}
		}()
	}
}
