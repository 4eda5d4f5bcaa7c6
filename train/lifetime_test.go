package train

import (
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/devicetest"
)

// TestTrainingLeaksNothing trains the tiny model for 12 steps with an
// evaluation (retrieval, zero-shot, greedy captions) after every step,
// under a backend with a device backend's memory contract (devicetest:
// buffers counted, never garbage collected), and checks that the bytes
// outstanding, and the pooled bytes in use, are the same before
// every step from the third on: steps and evaluations after the first of
// each leak nothing. Before buffer lifetimes were explicit, every
// evaluation grew by 2.9 MB.
func TestTrainingLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dev := devicetest.New(tensor.CurrentBackend())
	defer tensor.SetBackend(tensor.SetBackend(dev))
	o := tiny(t.TempDir())
	o.Steps, o.EvalEvery = 12, 1
	var bytes, inUse []int64
	beforeStep = func(step int, m *coca.Model) {
		b, _ := dev.Outstanding()
		bytes = append(bytes, b)
		inUse = append(inUse, tensor.PoolInUse())
	}
	defer func() { beforeStep = nil }()
	if _, err := Run(o); err != nil {
		t.Fatal(err)
	}
	// beforeStep(k) runs after step k, before its evaluation: entry k-1
	// follows k-1 steps and k-2 evaluations.
	if len(bytes) != o.Steps {
		t.Fatalf("%d steps observed, want %d", len(bytes), o.Steps)
	}
	for k := 3; k <= o.Steps; k++ {
		if bytes[k-1] != bytes[2] || inUse[k-1] != inUse[0] {
			t.Fatalf("after step %d and %d evaluations: %d bytes outstanding (%d pooled in use), after step 3: %d (%d)",
				k, k-1, bytes[k-1], inUse[k-1], bytes[2], inUse[0])
		}
	}
	t.Logf("%d bytes outstanding from step 3 to %d", bytes[2], o.Steps)
}
