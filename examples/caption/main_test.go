package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

const photo = "../../data/testdata/chelsea.png"

// TestCaption runs the example on a small randomly initialised model with
// CLIP's vocabulary and checks its line against the library's own result.
func TestCaption(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := coca.Builtin("coca_tiny")
	cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 49408, 49408
	m := coca.New(cfg)
	m.Init(3)
	ckpt, conf := filepath.Join(dir, "tiny.safetensors"), filepath.Join(dir, "tiny.json")
	if err := m.SaveSafetensors(ckpt); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, cfg.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"--config", conf, "--checkpoint", ckpt, photo}, &out); err != nil {
		t.Fatal(err)
	}

	px, err := data.PreprocessFile(photo, cfg.Vision.ImageSize)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := m.Generate(tensor.FromSlice(px, 1, 3, cfg.Vision.ImageSize, cfg.Vision.ImageSize), coca.OpenCLIPGenerateOptions)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.New()
	want := photo + "\t" + strings.TrimSpace(tok.Decode(tok.TrimSpecial(seqs[0]))) + "\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if len(seqs[0]) < 2 {
		t.Errorf("empty caption %v", seqs[0])
	}

	for _, args := range [][]string{
		{photo},
		{"--config", conf, "--checkpoint", filepath.Join(dir, "missing.bin"), photo},
		{"--config", conf, "--checkpoint", ckpt, filepath.Join(dir, "missing.jpg")},
	} {
		if err := run(args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
