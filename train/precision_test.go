package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/asm"
)

// TestPrecisionAuto: a run that leaves the precision unset takes bf16
// where the CPU has AVX512_BF16 and f32 elsewhere (the CI runs this at
// several SIMD levels) and records the resolved value; a resume that
// names the other precision is refused, one that names auto keeps the
// run's, also when auto would choose another here; a run of an earlier
// version (no run.json) resumes in float32. Auto's model is bit for bit
// the model of a run given the resolved value, and an unknown value is
// refused naming the three.
func TestPrecisionAuto(t *testing.T) {
	want, other := "f32", "bf16"
	if asm.HasBF16() {
		want, other = "bf16", "f32"
	}
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "auto"))
	a.Precision, a.Steps, a.SaveEvery, a.StopAt = "", 4, 2, 2
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := readRunSettings(a.Out)
	if err != nil || !ok {
		t.Fatalf("run.json: %v %v", ok, err)
	}
	if got := string(rec["precision"]); got != `"`+want+`"` {
		t.Fatalf("run.json records precision %s, want %q (asm.HasBF16 %v)", got, want, asm.HasBF16())
	}
	bad := Options{Out: a.Out, Resume: true, Precision: other, Progress: a.Progress, Log: a.Log}
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `--precision "`+other+`" (the run's is "`+want+`")`) {
		t.Fatalf("resume with --precision %s: %v", other, err)
	}
	more := Options{Out: a.Out, Resume: true, Precision: "auto", Progress: a.Progress, Log: a.Log}
	if _, err := Run(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	b := tiny(filepath.Join(dir, want))
	b.Precision, b.Steps, b.SaveEvery = want, 4, 2
	if _, err := Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	pa, pb := readParams(t, filepath.Join(a.Out, "model.safetensors")), readParams(t, filepath.Join(b.Out, "model.safetensors"))
	if len(pa) != len(pb) {
		t.Fatalf("auto's model has %d tensors, %s's %d", len(pa), want, len(pb))
	}
	for n, v := range pb {
		if len(pa[n]) != len(v) {
			t.Fatalf("%s: %d values in auto's model, %d in %s's", n, len(pa[n]), len(v), want)
		}
		for i := range v {
			if pa[n][i] != v[i] {
				t.Fatalf("%s[%d]: auto %v, %s %v", n, i, pa[n][i], want, v[i])
			}
		}
	}
	// A run in the precision auto does not choose here, resumed with auto.
	c, d := tiny(filepath.Join(dir, "c")), tiny(filepath.Join(dir, "d"))
	c.Precision, c.Steps, c.SaveEvery, c.StopAt = other, 4, 2, 2
	d.Precision, d.Steps, d.SaveEvery = other, 4, 2
	for _, o := range []Options{c, d, {Out: c.Out, Resume: true, Precision: "auto", Progress: a.Progress, Log: a.Log}} {
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	sameParams(t, filepath.Join(c.Out, "model.safetensors"), filepath.Join(d.Out, "model.safetensors"))
	// A run of an earlier version: no run.json.
	e := tiny(filepath.Join(dir, "e"))
	e.Precision, e.Steps, e.SaveEvery, e.StopAt = "f32", 4, 2, 2
	if _, err := Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.Out, "run.json")); err != nil {
		t.Fatal(err)
	}
	e.StopAt, e.Resume, e.Precision = 0, true, ""
	if _, err := Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if rec, _, err := readRunSettings(e.Out); err != nil || string(rec["precision"]) != `"f32"` {
		t.Fatalf("a run without run.json resumed with precision %s (%v), want \"f32\"", rec["precision"], err)
	}
	bad = tiny(filepath.Join(dir, "bad"))
	bad.Precision = "fp16"
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `--precision "fp16": want auto, f32 or bf16`) {
		t.Fatalf("--precision fp16: %v", err)
	}
}
