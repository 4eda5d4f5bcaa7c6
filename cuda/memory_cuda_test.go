//go:build cuda && cgo

package cuda

import (
	"context"
	"io"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/train"
)

// TestDeviceMemoryFlat checks issue 19's second figure on the GPU backend:
// the device bytes the allocator has handed out (MemoryStats' in use) are
// the same after each of 50 caption batches (greedy, beam and top-k in
// turn, after 3 warm-up batches) and after each of 10 training steps with
// an evaluation (retrieval, zero-shot, greedy captions) after every step,
// once the first has run. coca_tiny: the emulator runs its GEMMs.
func TestDeviceMemoryFlat(t *testing.T) {
	b := gpu(t)
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	inUse := func() int64 { n, _, _, _ := b.MemoryStats(); return n }

	t.Run("captions", func(t *testing.T) {
		cfg, err := coca.Builtin("coca_tiny")
		if err != nil {
			t.Fatal(err)
		}
		m := coca.New(cfg)
		m.Init(1)
		s := cfg.Vision.ImageSize
		images := tensor.New(2, 3, s, s)
		tensor.NewRNG(4).Normal(images, 0, 1)
		v := cfg.Text.VocabSize
		base := coca.GenerateOptions{MaxLen: 8, MinLen: 2, Start: v - 2, End: v - 1}
		cases := []coca.GenerateOptions{base, base, base}
		cases[0].Strategy = coca.StrategyGreedy
		cases[1].Strategy, cases[1].Beams, cases[1].LengthPenalty = coca.StrategyBeam, 3, 1
		cases[2].Strategy, cases[2].TopK, cases[2].Temperature, cases[2].Seed = coca.StrategyTopK, 5, 1.5, 7
		const warm, batches = 3, 50
		var first int64
		for i := range warm + batches {
			if _, err := m.Generate(images, cases[i%3]); err != nil {
				t.Fatal(err)
			}
			switch n := inUse(); {
			case i == warm-1:
				first = n
			case i >= warm && n != first:
				t.Fatalf("after caption batch %d of %d: %d device bytes in use, %d after the warm-up", i+1-warm, batches, n, first)
			}
		}
		t.Logf("%d device bytes in use after each of %d caption batches", first, batches)
	})

	t.Run("evaluations", func(t *testing.T) {
		o := train.Options{Out: t.TempDir(), Config: "coca_tiny", Steps: 10, BatchSize: 8, EvalEvery: 1, SaveEvery: 100,
			HeldOut: 16, Workers: 2, Seed: 3, LogEvery: 1, Progress: io.Discard, Log: io.Discard}
		var after []int64
		evals := 0
		o.OnStep = func(s train.StepInfo) error {
			if s.Eval != nil {
				evals++
			}
			after = append(after, inUse())
			return nil
		}
		if _, err := train.Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if evals != o.Steps || len(after) != o.Steps {
			t.Fatalf("%d steps and %d evaluations observed, want %d", len(after), evals, o.Steps)
		}
		t.Logf("device bytes in use after each step and its evaluation: %v", after)
		for k := 1; k < len(after); k++ {
			if after[k] != after[0] {
				t.Fatalf("after %d steps and evaluations: %d device bytes in use, %d after the first", k+1, after[k], after[0])
			}
		}
	})
}
