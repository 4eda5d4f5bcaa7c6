package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// writeRun writes a run directory: loss lines (and an evaluation line) and
// a model of two tensors.
func writeRun(t *testing.T, losses []float64, a, b []float32) string {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for i, l := range losses {
		lines = append(lines, fmt.Sprintf(`{"step":%d,"loss":%v,"contrastive_loss":%v,"caption_loss":%v,"lr":0.001}`, i+1, l, l/3, 2*l/3))
	}
	lines = append(lines, `{"step":2,"eval":{"image_to_text_r1":0.5}}`)
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := func(v []float32) []byte {
		out := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
		return out
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), []safetensors.Tensor{
		{Name: "a", DType: "F32", Shape: []int{len(a)}, Data: raw(a)},
		{Name: "b", DType: "F32", Shape: []int{len(b)}, Data: raw(b)},
	}, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompare(t *testing.T) {
	a, b := []float32{1, 2, 3, 4}, []float32{0.5, -0.25}
	ref := writeRun(t, []float64{10, 9, 8}, a, b)
	same := writeRun(t, []float64{10, 9, 8}, a, b)
	if err := run([]string{"-exact", ref, same}, io.Discard); err != nil {
		t.Errorf("identical runs: %v", err)
	}
	// A loss 5e-7 relative off, a parameter 1 ulp off: within the default
	// bounds, not identical.
	close1 := writeRun(t, []float64{10, 9 * (1 + 5e-7), 8}, []float32{1, 2, 3, math.Nextafter32(4, 5)}, b)
	if err := run([]string{ref, close1}, io.Discard); err != nil {
		t.Errorf("runs within the bounds: %v", err)
	}
	if err := run([]string{"-exact", ref, close1}, io.Discard); err == nil || !strings.Contains(err.Error(), "not bit-identical") {
		t.Errorf("-exact on different runs: %v", err)
	}
	r, err := compare(ref, close1)
	if err != nil {
		t.Fatal(err)
	}
	if r.worstLossStep != 2 || math.Abs(r.worstLoss-5e-7) > 1e-9 || r.paramBitsDiff != 1 || r.lossBitsDiffer != 3 {
		t.Errorf("compare: %+v", r)
	}
	if want := float64(math.Nextafter32(4, 5)-4) / math.Sqrt(1+4+9+16+0.25+0.0625); math.Abs(r.whole-want) > 1e-12 {
		t.Errorf("‖Δ‖/‖θ‖ = %v, want %v", r.whole, want)
	}
	// Beyond the bounds: a loss 2e-6 off, a parameter 1e-5 relative off.
	far := writeRun(t, []float64{10 * (1 + 2e-6), 9, 8}, []float32{1, 2, 3, 4.0001}, b)
	err = run([]string{ref, far}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "a loss differs") || !strings.Contains(err.Error(), "parameters differ") {
		t.Errorf("runs beyond the bounds: %v", err)
	}
	// Different steps logged, different tensors: errors naming them.
	short := writeRun(t, []float64{10, 9}, a, b)
	if err := run([]string{ref, short}, io.Discard); err == nil || !strings.Contains(err.Error(), "logs steps") {
		t.Errorf("different steps: %v", err)
	}
	other := writeRun(t, []float64{10, 9, 8}, a, []float32{1})
	if err := run([]string{ref, other}, io.Discard); err == nil || !strings.Contains(err.Error(), "tensor b") {
		t.Errorf("different shapes: %v", err)
	}
}
