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
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/backendtest"
	"github.com/gococa/gococa/tensor/safetensors"
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
	// On the emulator: the host must not touch device memory (a GPU
	// would crash there); the test fails naming the code that did.
	if before, ok := readEmuStats(); ok && !b.(*Backend).d.alloc.managed {
		resetEmuSites()
		t.Cleanup(func() {
			after, _ := readEmuStats()
			if d := after.DeviceFaults - before.DeviceFaults; d > 0 {
				t.Errorf("the host touched device memory (%d page faults; a GPU would crash), where:\n%s",
					d, strings.Join(siteNames(readEmuSites()), "\n"))
			}
		})
	}
	return b.(*Backend)
}

// TestConformance runs the backend conformance suite on the GPU, once
// with Go memory (staged to the device and back) and once with managed
// memory from the backend's allocator (used in place).
func TestConformance(t *testing.T) {
	b := gpu(t)
	t.Run("staged", func(t *testing.T) { backendtest.Run(t, b, nil) })
	t.Run("managed", func(t *testing.T) {
		m := b
		if !b.d.alloc.managed {
			// The suite reads and writes its buffers on the host: with
			// device memory they must be another GPU's managed memory
			// (the emulator's GPU 1; on one GPU, run the tests with
			// GOCOCA_CUDA_MEMORY=managed).
			n, err := cuDeviceCount()
			if err != nil || n < 2 {
				t.Skip("GPU 0 holds device memory and there is no GPU 1: GOCOCA_CUDA_MEMORY=managed runs this")
			}
			o, err := New(Options{Math: "fp32", Device: 1, Memory: "managed"})
			if err != nil {
				t.Fatal(err)
			}
			m = o.(*Backend)
		}
		backendtest.Run(t, m, m.Alloc)
	})
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
	// float32 products on both (auto would take bf16 on a CPU with AVX512_BF16).
	o := train.Options{Out: dir, Config: "coca_tiny", Steps: 20, BatchSize: 8, EvalEvery: -1, SaveEvery: 100,
		HeldOut: 16, Workers: 2, Seed: 3, LogEvery: 1, Precision: "f32", Progress: io.Discard, Log: io.Discard}
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

// TestGenerateMatchesCPU captions the tiny fixture's images with the
// KV-cached decoder on the CPU and on the GPU, with float32 weights and
// with bfloat16 ones (widened on the device): the decoder's logits agree
// within 1e-4 (relative to 1 + |logit|) for 6 steps, and greedy and beam
// search give the same tokens.
func TestGenerateMatchesCPU(t *testing.T) {
	b := gpu(t)
	dir := "../golden/testdata/tiny"
	load := func(bf16 bool) (*coca.Model, *tensor.Tensor) {
		cfg, err := coca.LoadConfig(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		m := coca.New(cfg)
		if err := m.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
			t.Fatal(err)
		}
		if bf16 {
			m.QuantizeBF16()
		}
		f, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := f.Float32("input.image")
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info("input.image")
		return m, tensor.FromSlice(img, info.Shape...)
	}
	type result struct {
		logits [][]float32
		greedy [][]int
		beam   [][]int
	}
	run := func(bf16 bool) result {
		m, images := load(bf16)
		var r result
		_, tok := m.EncodeImage(images)
		d := m.NewDecoder(tok, 8)
		next := make([]int, tok.Dim(0))
		for i := range next {
			next[i] = 62
		}
		for range 6 {
			lg := d.Step(next)
			r.logits = append(r.logits, append([]float32(nil), lg...))
			v := len(lg) / len(next)
			for i := range next {
				best := 0
				for j, x := range lg[i*v : (i+1)*v] {
					if x > lg[i*v+best] {
						best = j
					}
				}
				next[i] = best
			}
		}
		d.Close()
		var err error
		if r.greedy, err = m.Generate(images, coca.GenerateOptions{MaxLen: 10, Start: 62, End: -1}); err != nil {
			t.Fatal(err)
		}
		if r.beam, err = m.Generate(images, coca.GenerateOptions{MaxLen: 8, Start: 62, End: -1, Strategy: coca.StrategyBeam, Beams: 3, LengthPenalty: 1}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, bf16 := range []bool{false, true} {
		cpu := run(bf16)
		old := tensor.SetBackend(b)
		dev := run(bf16)
		tensor.SetBackend(old)
		worst := 0.0
		for s := range cpu.logits {
			for i, c := range cpu.logits[s] {
				g := dev.logits[s][i]
				d := math.Abs(float64(g-c)) / (1 + math.Abs(float64(c)))
				worst = math.Max(worst, d)
				if !(d <= 1e-4) {
					t.Fatalf("bf16 %v: step %d logit %d: GPU %v, CPU %v", bf16, s, i, g, c)
				}
			}
		}
		for _, c := range []struct {
			what     string
			cpu, dev [][]int
		}{{"greedy", cpu.greedy, dev.greedy}, {"beam", cpu.beam, dev.beam}} {
			for i := range c.cpu {
				if !slices.Equal(c.cpu[i], c.dev[i]) {
					t.Errorf("bf16 %v: %s: image %d: GPU %v, CPU %v", bf16, c.what, i, c.dev[i], c.cpu[i])
				}
			}
		}
		t.Logf("bf16 %v: worst relative logit difference %.2g", bf16, worst)
	}
}
