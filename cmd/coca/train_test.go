package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyTrain are the flags of a small, quick training run.
var tinyTrain = []string{"train", "--config", "coca_tiny", "--steps", "6", "--batch", "8", "--held-out", "16", "--eval-every", "3",
	"--seed", "3", "--lr", "3e-3", "--warmup", "2", "--log-every", "1", "--workers", "2"}

func trainArgs(out string, extra ...string) []string {
	return append(append(append([]string(nil), tinyTrain...), "--out", out), extra...)
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainResumeWithoutFlags: `coca train --out DIR --resume`, the form
// -h shows, continues the run with its own settings and ends with the
// model an uninterrupted run writes, byte for byte; a fresh run in the
// same directory is refused and changes nothing; a conflicting flag names
// both values.
func TestTrainResumeWithoutFlags(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if code, out, errs := runCmd(trainArgs(a)...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runCmd(trainArgs(b, "--stop-at", "4")...); code != 0 || !strings.Contains(out, "stopped at step 4") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := runCmd("train", "--out", b, "--resume")
	if code != 0 || !strings.Contains(out, "resuming "+b+" at step 4 of 6") || !strings.Contains(out, "done: 6 steps (5–6 resumed, in ") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	if !bytes.Equal(readFile(t, filepath.Join(a, "model.safetensors")), readFile(t, filepath.Join(b, "model.safetensors"))) {
		t.Fatal("the resumed run's model.safetensors differs from the uninterrupted run's")
	}
	// Resuming a finished run does nothing and writes nothing.
	modelA, reportA := readFile(t, filepath.Join(a, "model.safetensors")), readFile(t, filepath.Join(a, "report.html"))
	code, outA, errs := runCmd("train", "--out", a, "--resume")
	if code != 0 || !strings.Contains(outA, a+" holds a finished run (step 6 of 6): nothing to do") || strings.Contains(outA, "done:") {
		t.Fatalf("resuming a finished run: exit %d\n%s\n%s", code, outA, errs)
	}
	if !bytes.Equal(modelA, readFile(t, filepath.Join(a, "model.safetensors"))) || !bytes.Equal(reportA, readFile(t, filepath.Join(a, "report.html"))) {
		t.Fatal("resuming a finished run rewrote its files")
	}
	// A run stopped between its last checkpoint and its final model (a
	// crash) writes the same model on resume.
	os.Remove(filepath.Join(a, "model.safetensors"))
	code, outA, errs = runCmd("train", "--out", a, "--resume")
	if code != 0 || !strings.Contains(outA, "done: 6 steps (none left after the checkpoint") {
		t.Fatalf("resuming a run without its final model: exit %d\n%s\n%s", code, outA, errs)
	}
	if !bytes.Equal(modelA, readFile(t, filepath.Join(a, "model.safetensors"))) {
		t.Fatal("the final model written from the last checkpoint differs")
	}
	before := readFile(t, filepath.Join(b, "metrics.jsonl"))
	code, _, errs = runCmd(trainArgs(b)...)
	if code != 1 || !strings.Contains(errs, "already holds a finished run") || !strings.Contains(errs, "--resume") || !strings.Contains(errs, "--force") {
		t.Fatalf("fresh run over a run: exit %d: %s", code, errs)
	}
	code, _, errs = runCmd("train", "--out", b, "--resume", "--seed", "4", "--warmup", "0")
	if code != 1 || !strings.Contains(errs, "--seed 4 (the run's is 3)") || !strings.Contains(errs, "--warmup 0 (the run's is 2)") {
		t.Fatalf("conflicting resume: exit %d: %s", code, errs)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(b, "metrics.jsonl"))) {
		t.Fatal("a refused start changed metrics.jsonl")
	}
}

// TestTrainExplicitZeroFlags: --contrastive-weight 0 (or open_clip's
// --coca-contrastive-loss-weight 0) gives exactly 0 contrastive loss;
// --warmup 0 starts at the peak learning rate.
func TestTrainExplicitZeroFlags(t *testing.T) {
	dir := t.TempDir()
	for _, flag := range []string{"--contrastive-weight", "--coca-contrastive-loss-weight"} {
		out := filepath.Join(dir, strings.TrimLeft(flag, "-"))
		if code, o, errs := runCmd(trainArgs(out, flag, "0", "--warmup", "0")...); code != 0 {
			t.Fatalf("%s 0: exit %d\n%s\n%s", flag, code, o, errs)
		}
		f, _ := os.Open(filepath.Join(out, "metrics.jsonl"))
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			var l struct {
				Step        int      `json:"step"`
				Loss        *float64 `json:"loss"`
				Contrastive float64  `json:"contrastive_loss"`
				Caption     float64  `json:"caption_loss"`
				LR          float64  `json:"lr"`
			}
			json.Unmarshal(sc.Bytes(), &l)
			if l.Loss == nil {
				continue
			}
			n++
			if l.Contrastive != 0 || !(l.Caption > 0) || (l.Step == 1 && l.LR != 3e-3) {
				t.Fatalf("%s 0: step %d contrastive %v caption %v lr %v", flag, l.Step, l.Contrastive, l.Caption, l.LR)
			}
		}
		f.Close()
		if n != 6 {
			t.Fatalf("%d loss lines", n)
		}
	}
}

// TestProbeAndClassify: coca synth writes a labelled folder, coca probe
// trains a head on a model coca train wrote, and coca classify --probe
// uses it; coca classify without --probe is coca zeroshot.
func TestProbeAndClassify(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if code, o, errs := runCmd(trainArgs(run)...); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, o, errs)
	}
	folder := filepath.Join(dir, "colours")
	code, o, errs := runCmd("synth", "--out", folder, "--label", "colour", "--per-class", "10", "--image-size", "32")
	if code != 0 || !strings.Contains(o, "wrote 60 images in 6 classes (red, ") {
		t.Fatalf("synth: exit %d\n%s\n%s", code, o, errs)
	}
	if code, _, errs = runCmd("synth", "--out", folder); code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("synth into a full directory: exit %d: %s", code, errs)
	}
	model := filepath.Join(run, "model.safetensors")
	head := filepath.Join(dir, "head.safetensors")
	code, o, errs = runCmd("probe", "--checkpoint", model, "--head", "attentional", "--epochs", "20", "--out", head, folder)
	if code != 0 || !strings.Contains(o, "held-out top-1 ") || !strings.Contains(o, "attentional head, frozen encoder, 6 classes, 48 training and 12 held-out images") {
		t.Fatalf("probe: exit %d\n%s\n%s", code, o, errs)
	}
	t.Log(strings.TrimSpace(o))
	if code, _, errs = runCmd("probe", "--checkpoint", model, "--out", head, folder); code != 1 || !strings.Contains(errs, "--force") {
		t.Fatalf("probe over an existing head: exit %d: %s", code, errs)
	}
	img := filepath.Join(folder, "red")
	code, o, errs = runCmd("classify", "--checkpoint", model, "--probe", head, "--top", "2", "--json", img)
	if code != 0 {
		t.Fatalf("classify: exit %d\n%s\n%s", code, o, errs)
	}
	lines := strings.Split(strings.TrimSpace(o), "\n")
	if len(lines) != 10 {
		t.Fatalf("classify: %d lines:\n%s", len(lines), o)
	}
	var r struct {
		Image string
		Top   []struct {
			Class string
			Prob  float64
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil || len(r.Top) != 2 || r.Top[0].Prob < r.Top[1].Prob || !strings.HasSuffix(r.Image, ".png") {
		t.Fatalf("classify line %q: %v", lines[0], err)
	}
	// Without --probe, classify is zeroshot (which wants --classes).
	if code, _, errs = runCmd("classify", "--checkpoint", model, img); code != 2 || !strings.Contains(errs, "coca zeroshot") {
		t.Fatalf("classify without --probe: exit %d: %s", code, errs)
	}
}

// TestTrainPretrained: --pretrained finds open_clip's published weights in
// the Hugging Face cache ($HF_HUB_CACHE) as the inference commands do, and
// says what to download when they are absent.
func TestTrainPretrained(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	out := filepath.Join(t.TempDir(), "run")
	code, _, errs := runCmd("train", "--pretrained", "coca_ViT-B-32:laion2b_s13b_b90k", "--out", out)
	if code != 1 || !strings.Contains(errs, "huggingface-cli download laion/CoCa-ViT-B-32-laion2B-s13B-b90k") {
		t.Fatalf("absent weights: exit %d: %s", code, errs)
	}
	// A snapshot holding other weights than B-32's: the run reaches the
	// file and refuses it, naming it and the config.
	snap := filepath.Join(cache, "models--laion--CoCa-ViT-B-32-laion2B-s13B-b90k", "snapshots", "abc")
	os.MkdirAll(snap, 0o755)
	os.WriteFile(filepath.Join(snap, "open_clip_pytorch_model.bin"), readFile(t, "../../train/testdata/init/model.bin"), 0o644)
	code, _, errs = runCmd("train", "--pretrained", "laion2b_s13b_b90k", "--config", "coca_ViT-B-32", "--out", out)
	if code != 1 || !strings.Contains(errs, filepath.Join(snap, "open_clip_pytorch_model.bin")) {
		t.Fatalf("mismatched snapshot: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused start created the run directory")
	}
	t.Log(errs)
	if code, _, errs = runCmd("train", "--pretrained", "laion2b_s13b_b90k", "--init", "x.bin"); code != 2 {
		t.Fatalf("--pretrained with --init: exit %d: %s", code, errs)
	}
}
