//go:build cuda && cgo

package cuda

import (
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestDeviceOps checks the tensor ops that run on the GPU instead of on
// the host under a device backend (tensor.CausalMasker,
// tensor.CrossEntropyMeaner, tensor.HostReader: the text mask, the
// cross-entropy kept on the device and its backward reading the incoming
// gradient there, the backward seed written by Fill, Item, Items and
// HostValues) against the same ops on the CPU backend.
func TestDeviceOps(t *testing.T) {
	b := gpu(t)
	// on runs f with the GPU backend (gpu) or the CPU backend and returns
	// what it read, in Go memory.
	on := func(gpu bool, f func() [][]float32) [][]float32 {
		if gpu {
			old := tensor.SetBackend(b)
			defer tensor.SetBackend(old)
		}
		return f()
	}
	inf := float32(math.Inf(-1))
	bits := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d = %v, want %v (bit for bit)", what, i, got[i], want[i])
			}
		}
	}

	t.Run("CausalMask", func(t *testing.T) {
		for _, c := range []struct{ b, n, row int }{{3, 9, 8}, {2, 33, 32}, {4, 7, 3}, {1, 1, 0}} {
			rm := make([]float32, c.b*c.n)
			for i := range rm {
				if i%3 == 1 {
					rm[i] = inf
				} else if i%5 == 2 {
					rm[i] = 0.25 // any value: the row is copied
				}
			}
			run := func() [][]float32 {
				m := tensor.CausalMask(rm, c.b, c.n, c.row)
				defer tensor.Drop(m)
				return [][]float32{append([]float32(nil), tensor.HostValues(m, nil)...)}
			}
			want := on(false, run)[0]
			if c.n > 1 && c.row != 0 && want[1] != inf {
				t.Fatalf("the CPU mask is not causal: %v", want[:c.n])
			}
			bits(t, "mask", on(true, run)[0], want)
		}
	})

	t.Run("CrossEntropy", func(t *testing.T) {
		rows, n := 37, 1029
		g := tensor.NewRNG(5)
		x0 := tensor.New(rows, n)
		g.Normal(x0, 0, 3)
		vals := append([]float32(nil), x0.Data()...)
		targets := make([]int, rows)
		for i := range targets {
			targets[i] = (i * 131) % n
		}
		targets[5], targets[20] = -100, -100
		// leaf: the logits are a parameter (its gradient accumulates);
		// intermediate: 2·logits, whose gradient is a fresh buffer the
		// backward stores into.
		for _, kind := range []string{"leaf", "intermediate"} {
			run := func() [][]float32 {
				x := tensor.NewParam("x", rows, n)
				if r, ok := tensor.CurrentBackend().(tensor.HostReader); ok && r.Owns(x.Data()) {
					b.CopyFromHost(x.Data(), vals)
				} else {
					copy(x.Data(), vals)
				}
				logits := x
				if kind == "intermediate" {
					logits = tensor.Scale(x, 2)
				}
				loss := tensor.CrossEntropy(logits, targets, -100)
				v := tensor.Items(loss, loss)
				item := loss.Item()
				tensor.BackwardRelease(loss, nil)
				grad := tensor.FromSlice(x.Grad(), rows, n)
				return [][]float32{v, {item}, append([]float32(nil), tensor.HostValues(grad, nil)...)}
			}
			want, got := on(false, run), on(true, run)
			// The loss: float64 sums of float32 terms in another order,
			// rounded to float32: 4e-7 relative, about 3 ulp (measured:
			// equal on the emulator).
			if d := math.Abs(float64(got[0][0] - want[0][0])); d > 4e-7*math.Abs(float64(want[0][0])) {
				t.Errorf("%s: loss %v on the GPU, %v on the CPU", kind, got[0][0], want[0][0])
			}
			if got[0][1] != got[0][0] || got[1][0] != got[0][0] {
				t.Errorf("%s: Items %v and Item %v differ", kind, got[0], got[1][0])
			}
			// The gradient: the same float32 formula with the device's
			// expf for the CPU's and the same g = 1/count: 2e-6 of the
			// largest value (measured on the emulator: 2.0e-7 leaf,
			// 6.5e-7 intermediate).
			gw, gg := want[2], got[2]
			var worst float64
			for i := range gw {
				worst = max(worst, math.Abs(float64(gg[i]-gw[i])))
			}
			var scale float64
			for _, v := range gw {
				scale = max(scale, math.Abs(float64(v)))
			}
			if worst > 2e-6*scale || scale == 0 {
				t.Errorf("%s: gradient differs by %g (largest %g)", kind, worst, scale)
			}
			t.Logf("%s: loss %v (CPU %v), largest gradient difference %g of %g", kind, got[0][0], want[0][0], worst, scale)
		}
	})

	t.Run("IDs", func(t *testing.T) {
		// The ids of a step on the device (tensor.IDs): the embedding and
		// its gradient (the device's counting sort groups repeated ids),
		// the text mask from the ids with either CLS key rule, and the
		// derived ids (Columns, RangeIDs) read back through a gather of a
		// table whose row v holds v. All bit for bit against the CPU.
		const v, c, bs, l = 50, 200, 6, 13
		g := tensor.NewRNG(9)
		ids := make([]int, bs*l)
		for i := range ids {
			if ids[i] = g.IntN(v); ids[i] == 7 {
				ids[i] = 8 // 7 is the pad id
			}
		}
		ids[3], ids[4], ids[l] = 0, 0, v-1 // repeats, the first and last rows
		for i := 2*l - 4; i < 2*l; i++ {
			ids[i] = 7 // padding at the end of row 1
		}
		tab := tensor.New(v, c)
		g.Normal(tab, 0, 1)
		tabVals := append([]float32(nil), tab.Data()...)
		dy := tensor.New(bs*l, c)
		g.Normal(dy, 0, 1)
		dyVals := append([]float32(nil), dy.Data()...)
		put := func(dst, src []float32) {
			if r, ok := tensor.CurrentBackend().(tensor.HostReader); ok && r.Owns(dst) {
				b.CopyFromHost(dst, src)
			} else {
				copy(dst, src)
			}
		}
		host := func(x *tensor.Tensor) []float32 { return append([]float32(nil), tensor.HostValues(x, nil)...) }
		run := func() [][]float32 {
			var out [][]float32
			x := tensor.NewIDs(ids, bs, l)
			defer x.Drop()
			w := tensor.NewParam("table", v, c)
			put(w.Data(), tabVals)
			up := tensor.New(bs*l, c)
			put(up.Data(), dyVals)
			e := tensor.EmbeddingIDs(w, x)
			out = append(out, host(e))
			loss := tensor.Sum(tensor.Mul(e, up), false)
			tensor.BackwardRelease(loss, nil)
			out = append(out, host(tensor.FromSlice(w.Grad(), v, c)))
			if x.Live() {
				t.Fatal("the graph's release left the ids it recorded")
			}
			x = tensor.NewIDs(ids, bs, l)
			for _, shift := range []int{0, 1} {
				m := tensor.CausalMaskIDs(x, l+1, l, 7, shift)
				out = append(out, host(m))
				tensor.Drop(m)
			}
			iota := tensor.New(v+bs, 1) // row k holds k
			seq := make([]float32, v+bs)
			for k := range seq {
				seq[k] = float32(k)
			}
			put(iota.Data(), seq)
			cols := x.Columns(1, l)
			r := tensor.RangeIDs(v, bs)
			for _, y := range []*tensor.IDs{cols, r} {
				e := tensor.EmbeddingIDs(iota, y)
				out = append(out, host(e))
				tensor.Drop(e)
				y.Drop()
			}
			return out
		}
		want, got := on(false, run), on(true, run)
		names := []string{"embedding", "embedding gradient", "mask (shift 0)", "mask (shift 1)", "columns 1..L", "range"}
		for i, name := range names {
			bits(t, name, got[i], want[i])
		}
		// The CPU figures are what they should be, not only equal.
		if want[4][0] != float32(ids[1]) || want[4][l-1] != float32(ids[l+1]) || want[5][0] != v || want[5][bs-1] != v+bs-1 {
			t.Fatalf("CPU: columns %v, range %v", want[4][:l], want[5])
		}
		n := l + 1
		if m := want[2][l*n:]; m[l-5] != 0 || m[n*n+l-5] != 0 || m[n*n+l-4] != inf || m[n*n+l-1] != inf || m[n*n+l] != 0 || want[2][1] != inf {
			t.Fatalf("CPU: the CLS rows of the mask are wrong")
		}
	})
}
