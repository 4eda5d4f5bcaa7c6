package coca

import (
	"path/filepath"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// TestCachedGreedyMatchesFixtures checks the KV-cached decoder against the
// fixtures' greedy tokens (made by recomputing the whole prefix each step).
func TestCachedGreedyMatchesFixtures(t *testing.T) {
	dirs, err := FixtureDirs("../golden/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			m := New(cfg)
			if err := m.LoadSafetensors(filepath.Join(dir, "weights.safetensors")); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, _ := f.Float32("input.image")
			info, _ := f.Info("input.image")
			ref, _ := f.Float32("output.greedy_tokens")
			gi, _ := f.Info("output.greedy_tokens")
			b, n := gi.Shape[0], gi.Shape[1]
			images := tensor.FromSlice(img, info.Shape...)
			got := m.GenerateGreedy(images, GenerateOptions{MaxLen: n, Start: int(ref[0]), End: -1})
			for i := 0; i < b; i++ {
				if len(got[i]) != n {
					t.Fatalf("row %d: %d tokens, want %d", i, len(got[i]), n)
				}
				for j := 0; j < n; j++ {
					if got[i][j] != int(ref[i*n+j]) {
						t.Fatalf("row %d: cached greedy %v, fixture %v", i, got[i], ref[i*n:(i+1)*n])
					}
				}
			}
			// Batched decoding equals per-image decoding.
			for i := 0; i < b; i++ {
				one := tensor.FromSlice(img[i*len(img)/b:(i+1)*len(img)/b], append([]int{1}, info.Shape[1:]...)...)
				g := m.GenerateGreedy(one, GenerateOptions{MaxLen: n, Start: int(ref[0]), End: -1})
				for j := range g[0] {
					if g[0][j] != got[i][j] {
						t.Fatalf("row %d alone %v, in batch %v", i, g[0], got[i])
					}
				}
			}
		})
	}
}

// TestGreedyStopsPerRow checks end-token handling: each row stops at its own
// end token and MinLen suppresses an early end.
func TestGreedyStopsPerRow(t *testing.T) {
	cfg, _ := Builtin("coca_tiny")
	m := New(cfg)
	m.Init(5)
	g := tensor.NewRNG(9)
	img := tensor.New(3, 3, 32, 32)
	g.Normal(img, 0, 1)
	free := m.GenerateGreedy(img, GenerateOptions{MaxLen: 12, Start: 1, End: -1})
	// Use, as the end token, the token row 0 produces at position 3.
	end := free[0][3]
	got := m.GenerateGreedy(img, GenerateOptions{MaxLen: 12, Start: 1, End: end})
	for i, s := range got {
		stop := len(free[i])
		for j := 1; j < len(free[i]); j++ {
			if free[i][j] == end {
				stop = j + 1
				break
			}
		}
		if len(s) != stop {
			t.Fatalf("row %d: %v, want the first %d of %v", i, s, stop, free[i])
		}
		for j := range s {
			if s[j] != free[i][j] {
				t.Fatalf("row %d: %v differs from %v", i, s, free[i])
			}
		}
	}
	withMin := m.GenerateGreedy(img, GenerateOptions{MaxLen: 12, MinLen: 6, Start: 1, End: end})
	for i, s := range withMin {
		for j := 1; j < len(s) && j < 6; j++ {
			if s[j] == end {
				t.Fatalf("row %d: end token at position %d despite MinLen 6: %v", i, j, s)
			}
		}
	}
}
