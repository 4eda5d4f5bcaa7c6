//go:build cuda && cgo

package cuda

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/backendtest"
	"github.com/gococa/gococa/train"
)

// gpu returns the backend of GPU 0 with exact float32 GEMMs, or skips the
// test when there is none.
func gpu(t *testing.T) *Backend {
	t.Helper()
	if err := Probe(); err != nil {
		t.Skipf("no CUDA device, GPU test not run: %v", err)
	}
	b, err := New(Options{Math: "fp32"})
	if err != nil {
		t.Fatalf("a CUDA device is present but the backend does not start: %v", err)
	}
	t.Logf("%v", b)
	return b.(*Backend)
}

// TestConformance runs the backend conformance suite on the GPU, once
// with Go memory (staged to the device and back) and once with managed
// memory from the backend's allocator (used in place).
func TestConformance(t *testing.T) {
	b := gpu(t)
	t.Run("staged", func(t *testing.T) { backendtest.Run(t, b, nil) })
	t.Run("managed", func(t *testing.T) { backendtest.Run(t, b, b.Alloc) })
}

// TestGoldenFixtures runs every golden fixture (open_clip's tiny and
// parallel and the PyTorch reference's others: forward, losses, backward,
// greedy decoding) with the CUDA backend, at the fixtures' tolerances.
func TestGoldenFixtures(t *testing.T) {
	b := gpu(t)
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	dirs, err := coca.FixtureDirs("../golden/testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 2 {
		t.Fatalf("found %d fixtures in ../golden/testdata", len(dirs))
	}
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) {
			var buf bytes.Buffer
			fails, err := coca.Verify(d, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if fails > 0 {
				t.Fatalf("%d tensors differ:\n%s", fails, buf.String())
			}
		})
	}
}

// TestTrainMatchesCPU trains coca_tiny for 20 steps on the CPU and on the
// GPU from the same seed and checks that every step's losses agree within
// 1e-3 relative.
func TestTrainMatchesCPU(t *testing.T) {
	b := gpu(t)
	cpu := trainLosses(t, nil)
	dev := trainLosses(t, b)
	if len(cpu) != 20 || len(dev) != 20 {
		t.Fatalf("%d CPU and %d GPU steps logged, want 20", len(cpu), len(dev))
	}
	worst := 0.0
	for i := range cpu {
		for _, k := range []string{"loss", "contrastive_loss", "caption_loss"} {
			c, g := cpu[i][k], dev[i][k]
			rel := math.Abs(g-c) / math.Abs(c)
			worst = math.Max(worst, rel)
			if !(rel <= 1e-3) {
				t.Errorf("step %d %s: GPU %.7g, CPU %.7g (relative difference %.2g > 1e-3)", i+1, k, g, c, rel)
			}
		}
	}
	t.Logf("worst relative difference over 20 steps: %.3g", worst)
}

// trainLosses runs 20 steps of coca_tiny with backend b (nil: the current
// one) and returns each step's logged losses.
func trainLosses(t *testing.T, b tensor.Backend) []map[string]float64 {
	t.Helper()
	if b != nil {
		old := tensor.SetBackend(b)
		defer tensor.SetBackend(old)
	}
	dir := t.TempDir()
	o := train.Options{Out: dir, Config: "coca_tiny", Steps: 20, BatchSize: 8, EvalEvery: -1, SaveEvery: 100,
		HeldOut: 16, Workers: 2, Seed: 3, LogEvery: 1, Progress: io.Discard, Log: io.Discard}
	if _, err := train.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"loss"`) {
			continue
		}
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		out = append(out, m)
	}
	return out
}
