package tensor

import (
	"math"
	"testing"
)

// TestMapBackwardStore: the CPU backend's MapBackwardStore stores exactly
// what MapBackward adds to zeros, for every map op, over a length that
// spans several parallel chunks, overwriting whatever dx held.
func TestMapBackwardStore(t *testing.T) {
	var ms MapBackwardStorer = cpuBackend{}
	g := NewRNG(3)
	n := 3*chunk + 17
	x, dy := New(n), New(n)
	g.Normal(x, 0, 2)
	g.Normal(dy, 0, 1)
	for _, f := range []MapOp{OpExp, OpGELU, OpQuickGELU, OpGELUTanh, OpSigmoid, OpTanh, OpNeg} {
		y := make([]float32, n)
		cpuBackend{}.Map(f, y, x.data)
		want := make([]float32, n)
		cpuBackend{}.MapBackward(f, want, x.data, y, dy.data)
		got := make([]float32, n)
		for i := range got {
			got[i] = float32(math.NaN())
		}
		ms.MapBackwardStore(f, got, x.data, y, dy.data)
		for i := range want {
			if got[i] != want[i] && !(got[i] == 0 && want[i] == 0) {
				t.Fatalf("op %d element %d: stored %v, MapBackward into zeros %v", f, i, got[i], want[i])
			}
		}
	}
}
