package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
)

// TestZeroShot runs the example on a small randomly initialised model with
// CLIP's vocabulary: one line per class, probabilities summing to 1, most
// likely first.
func TestZeroShot(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := coca.Builtin("coca_tiny")
	cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 49408, 49408
	m := coca.New(cfg)
	m.Init(5)
	ckpt, conf := filepath.Join(dir, "tiny.safetensors"), filepath.Join(dir, "tiny.json")
	if err := m.SaveSafetensors(ckpt); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, cfg.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	classes := []string{"cat", "dog", "bird", "red car"}
	if err := run([]string{"--config", conf, "--checkpoint", ckpt, "--classes", strings.Join(classes, ","), "../../data/testdata/chelsea.png"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(classes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(classes), out.String())
	}
	sum, prev := 0.0, 1.0
	seen := map[string]bool{}
	for _, l := range lines {
		p, name, ok := strings.Cut(l, "\t")
		v, err := strconv.ParseFloat(p, 64)
		if !ok || err != nil || v > prev+1e-9 {
			t.Fatalf("bad or unsorted line %q in\n%s", l, out.String())
		}
		sum, prev, seen[name] = sum+v, v, true
	}
	if math.Abs(sum-1) > 1e-3 || len(seen) != len(classes) {
		t.Errorf("probabilities sum to %v over %d classes:\n%s", sum, len(seen), out.String())
	}
}
