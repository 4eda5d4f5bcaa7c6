package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// TestTrainPrecision: --precision bf16 is recorded in run.json, a resumed
// run keeps it (ending with the uninterrupted bf16 run's model, byte for
// byte, which is not the float32 run's), a contradicting flag on --resume
// is refused naming both values, and a run recorded before the setting
// existed resumes as float32.
func TestTrainPrecision(t *testing.T) {
	dir := t.TempDir()
	a, b, f := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "f")
	if code, out, errs := runCmd(trainArgs(a, "--precision", "bf16")...); code != 0 || !strings.Contains(out, "bf16 products") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(string(readFile(t, filepath.Join(a, "run.json"))), `"precision": "bf16"`) {
		t.Fatalf("run.json does not record the precision:\n%s", readFile(t, filepath.Join(a, "run.json")))
	}
	if code, out, errs := runCmd(trainArgs(b, "--precision", "bf16", "--stop-at", "4")...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs := runCmd("train", "--out", b, "--resume", "--precision", "f32")
	if code != 1 || !strings.Contains(errs, `--precision "f32" (the run's is "bf16")`) {
		t.Fatalf("resume with another precision: exit %d\n%s", code, errs)
	}
	if code, out, errs := runCmd("train", "--out", b, "--resume"); code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	modelA := readFile(t, filepath.Join(a, "model.safetensors"))
	if !bytes.Equal(modelA, readFile(t, filepath.Join(b, "model.safetensors"))) {
		t.Fatal("the resumed bf16 run's model differs from the uninterrupted bf16 run's")
	}
	if code, out, errs := runCmd(trainArgs(f, "--precision", "f32", "--stop-at", "4")...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// A run.json written before --precision existed: float32.
	rj := filepath.Join(f, "run.json")
	old := strings.Replace(string(readFile(t, rj)), `"precision": "f32",`, "", 1)
	if old == string(readFile(t, rj)) {
		t.Fatalf("run.json of a float32 run lacks the precision:\n%s", old)
	}
	os.WriteFile(rj, []byte(old), 0o644)
	code, _, errs = runCmd("train", "--out", f, "--resume", "--precision", "bf16")
	if code != 1 || !strings.Contains(errs, `--precision "bf16" (the run's is "f32")`) {
		t.Fatalf("resume of an old float32 run with bf16: exit %d\n%s", code, errs)
	}
	if code, out, errs := runCmd("train", "--out", f, "--resume"); code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	if bytes.Equal(modelA, readFile(t, filepath.Join(f, "model.safetensors"))) {
		t.Fatal("the float32 run's model is the bf16 run's: the precision changed nothing")
	}
}

// TestPrecisionFlagErrors: bad values and the CUDA device (with bf16
// products or int8 weights) are usage errors (exit 2) that say what to do.
func TestPrecisionFlagErrors(t *testing.T) {
	dir := t.TempDir()
	img := writeImages(t, dir, 1)[0]
	for _, c := range []struct {
		args []string
		want string
	}{
		{trainArgs(filepath.Join(dir, "x"), "--precision", "fp16"), `--precision "fp16": want auto, f32 or bf16`},
		{trainArgs(filepath.Join(dir, "x"), "--precision", "bf16", "--device", "cuda"), "--precision bf16 with --device cuda: bfloat16 products run on the CPU only"},
		{append([]string{"embed", "--precision", "bfloat8", "--out", filepath.Join(dir, "e.jsonl"), img}, tinyFlags...), `--precision "bfloat8": want f32 or bf16`},
		{append([]string{"caption", "--precision", "bf16", "--device", "cuda:1", img}, tinyFlags...), "--precision bf16 with --device cuda:1"},
		{append([]string{"caption", "--weights", "int8", "--device", "cuda", img}, tinyFlags...), "--weights int8 is the CPU's: drop --device cuda"},
		{append([]string{"caption", "--weights", "int4", img}, tinyFlags...), `--weights "int4": want f32, bf16 or int8`},
	} {
		code, _, errs := runCmd(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", c.args, code, c.want, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused run wrote its --out")
	}
}

// TestEmbedPrecision: embed --precision bf16 gives features within
// bfloat16 rounding of float32's, not equal to them. Measured on the tiny
// random model (width 64; unit vectors): at most 2.7e-3 (images) and
// 3.4e-3 (texts) apart; bound 1e-2.
func TestEmbedPrecision(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 3)
	textFile := filepath.Join(dir, "texts.txt")
	os.WriteFile(textFile, []byte("a red square\ntwo blue circles\n"), 0o644)
	feats := func(prec string) (img, txt []float32) {
		out := filepath.Join(dir, prec+".safetensors")
		if code, _, errs := runCmd(append([]string{"embed", "--checkpoint", ckpt, "--texts", textFile, "--out", out, "--precision", prec}, paths...)...); code != 0 {
			t.Fatalf("embed --precision %s: exit %d: %s", prec, code, errs)
		}
		f, err := safetensors.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, _ = f.Float32("image_features")
		txt, _ = f.Float32("text_features")
		return img, txt
	}
	i32, t32 := feats("f32")
	ibf, tbf := feats("bf16")
	for _, c := range []struct {
		what string
		a, b []float32
	}{{"image", i32, ibf}, {"text", t32, tbf}} {
		var worst float64
		for i := range c.a {
			worst = max(worst, math.Abs(float64(c.a[i]-c.b[i])))
		}
		t.Logf("%s features: bf16 at most %.2g from float32", c.what, worst)
		if worst == 0 || worst > 1e-2 || len(c.a) != len(c.b) || len(c.a) == 0 {
			t.Errorf("%s features (%d, %d values): bf16 at most %.3g from float32, want in (0, 1e-2]", c.what, len(c.a), len(c.b), worst)
		}
	}
}
