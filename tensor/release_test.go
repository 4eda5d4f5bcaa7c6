package tensor

import (
	"math"
	"testing"
)

// TestBackwardRelease: BackwardRelease gives the gradients of Backward bit
// for bit, releases every intermediate, hands back to the pool what
// Backward + Release does, and needs fewer pooled bytes at its peak.
func TestBackwardRelease(t *testing.T) {
	const B, T, C, H = 3, 20, 32, 4
	g := NewRNG(5)
	blocks := []*block{newBlock(g, C), newBlock(g, C)}
	head := NewParam("head", 11, C)
	g.Normal(head, 0, 0.1)
	x := New(B, T, C)
	g.Normal(x, 0, 1)
	targets := make([]int, B*T)
	for i := range targets {
		targets[i] = g.IntN(11)
	}
	targets[3] = -1 // ignored
	params := []*Tensor{head}
	for _, b := range blocks {
		params = append(params, b.params()...)
	}
	var inner []*Tensor // intermediates to check afterwards
	forward := func() *Tensor {
		inner = inner[:0]
		h := x
		for _, b := range blocks {
			h = b.forward(h, H)
			inner = append(inner, h)
		}
		logits := Linear(Reshape(h, B*T, C), head, nil)
		inner = append(inner, logits)
		return Add(CrossEntropy(logits, targets, -1), Mean(Mul(h, h), false))
	}
	grads := func() [][]float32 {
		var out [][]float32
		for _, p := range params {
			out = append(out, append([]float32(nil), p.Grad()...))
			p.ZeroGrad()
		}
		return out
	}
	// Warm the pool so both runs start from the same state.
	loss := forward()
	Backward(loss)
	Release(loss)
	grads()

	// Other tests may leave buffers in use: measure above them.
	ResetPoolPeak()
	base := PoolPeakBytes()
	loss = forward()
	lossVal := loss.Item()
	Backward(loss)
	Release(loss)
	peakPlain := PoolPeakBytes() - base
	want := grads()
	poolPlain := PoolBytes()

	ResetPoolPeak()
	base = PoolPeakBytes()
	loss = forward()
	if loss.Item() != lossVal {
		t.Fatalf("loss %v, then %v", lossVal, loss.Item())
	}
	var notified int
	BackwardRelease(loss, func(*Tensor) { notified++ })
	peakRelease := PoolPeakBytes() - base
	got := grads()
	if notified != len(params) {
		t.Errorf("done called for %d leaves, want %d", notified, len(params))
	}
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("param %d grad %d: BackwardRelease %v, Backward %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	if !loss.released {
		t.Errorf("root not released")
	}
	for i, n := range inner {
		if !n.released {
			t.Errorf("intermediate %d (%v) not released", i, n.shape)
		}
	}
	if PoolBytes() != poolPlain {
		t.Errorf("pool holds %d bytes after BackwardRelease, %d after Backward + Release", PoolBytes(), poolPlain)
	}
	t.Logf("peak pooled bytes: Backward + Release %d, BackwardRelease %d", peakPlain, peakRelease)
	if float64(peakRelease) > 0.8*float64(peakPlain) {
		t.Errorf("BackwardRelease peak %d bytes, not below 0.8 × %d of Backward + Release", peakRelease, peakPlain)
	}
	for _, p := range params {
		if p.released || p.Grad() == nil {
			t.Fatalf("parameter released or without gradient")
		}
	}
}

// TestBackwardReleaseAliasing: the gradient hand-over of additions (and
// the stored first contributions of other ops) under BackwardRelease give
// Backward's gradients bit for bit when one tensor feeds an op twice, when
// a handed-over gradient later receives more contributions, and with
// broadcasting.
func TestBackwardReleaseAliasing(t *testing.T) {
	g := NewRNG(9)
	w := NewParam("w", 3, 4)
	v := NewParam("v", 4)
	g.Normal(w, 0, 1)
	g.Normal(v, 0, 1)
	build := func() *Tensor {
		x := Mul(w, Full(1.5, 4))      // intermediate (3, 4)
		y := Add(x, x)                 // both operands one tensor
		z := Sub(y, x)                 // x gets a second contribution
		u := Add(Mul(z, z), Add(z, v)) // z read three times; v broadcast
		q := GELU(Add(u, Sub(x, y)))   // fresh stores in GELU and Sub
		r := MatMul(q, Reshape(Rows(w, 0, 3), 4, 3), false, false)
		return Add(Sum(Mul(r, r), false), Sum(Scale(Neg(Sub(u, u)), 2), false))
	}
	grads := func(release bool) [][]float32 {
		loss := build()
		if release {
			BackwardRelease(loss, nil)
		} else {
			Backward(loss)
			Release(loss)
		}
		out := [][]float32{append([]float32(nil), w.Grad()...), append([]float32(nil), v.Grad()...)}
		w.ZeroGrad()
		v.ZeroGrad()
		return out
	}
	want := grads(false)
	got := grads(true)
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("param %d grad %d: BackwardRelease %v, Backward %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	// And Backward's gradients are right: compare w's with central
	// differences in float64 terms of the same graph.
	const eps = 1e-2
	for j := range w.data {
		orig := w.data[j]
		w.data[j] = orig + eps
		lp := build()
		fp := float64(lp.Item())
		Release(lp)
		w.data[j] = orig - eps
		lm := build()
		fm := float64(lm.Item())
		Release(lm)
		w.data[j] = orig
		num := (fp - fm) / (2 * eps)
		if d := math.Abs(num - float64(want[0][j])); d > 2e-2*math.Max(1, math.Abs(num)) {
			t.Errorf("w grad %d: %v, numeric %v", j, want[0][j], num)
		}
	}
}

// TestReleaseReachesMask: a pooled attention mask (Zeros) is part of the
// graph, so releasing the loss recycles it, for both attention ops.
func TestReleaseReachesMask(t *testing.T) {
	g := NewRNG(6)
	x := NewParam("x", 2, 3, 8)
	g.Normal(x, 0, 1)
	for _, heads := range []bool{false, true} {
		mask := Zeros(2, 3, 3)
		var out *Tensor
		if heads {
			out = AttentionHeads(x, 0, x, 0, x, 0, 2, 8, mask, false, 0)
		} else {
			q := Reshape(x, 2, 1, 3, 8)
			out = Attention(q, q, q, mask, false, 0)
		}
		loss := Sum(out, false)
		BackwardRelease(loss, nil)
		if !mask.released {
			t.Errorf("heads=%v: the mask was not released with the graph", heads)
		}
		x.ZeroGrad()
	}
}
