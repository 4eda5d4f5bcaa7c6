package train

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
)

// hashDir maps every file under dir (hidden ones too) to its SHA-256.
func hashDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameHashes(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %s changed (%q → %q)", what, k, v, b[k])
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// finished trains a tiny run to its end in dir and returns its options.
func finished(t *testing.T, dir string) Options {
	t.Helper()
	o := tiny(dir)
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFailedStartChangesNothing: a fresh run over a finished one is
// refused, and no failed start (refused, bad --init, conflicting resume
// flag, missing data) changes a byte of the run directory.
func TestFailedStartChangesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	o := finished(t, out)
	before := hashDir(t, out)
	if _, ok := before["tokenizer.txt"]; !ok {
		t.Fatalf("the run wrote no tokenizer.txt: %v", before)
	}
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, []byte("PK\x03\x04 not a checkpoint"), 0o644)
	cases := []struct {
		name string
		mod  func(o *Options)
		want []string
	}{
		{"fresh over a run", func(o *Options) {}, []string{"already holds a finished run", "--resume", "--force"}},
		{"force with a bad --init", func(o *Options) { o.Force, o.Init, o.Config = true, bad, "coca_tiny" }, []string{"bad.bin"}},
		{"force with missing data", func(o *Options) { o.Force, o.Data = true, filepath.Join(dir, "none.tsv") }, []string{"none.tsv"}},
		{"resume with another seed", func(o *Options) { o.Resume, o.Seed = true, 4 }, []string{"--seed 4", "the run's is 3"}},
		{"resume with --init", func(o *Options) { o.Resume, o.Init = true, bad }, []string{"--init", `the run's is ""`}},
		{"resume and force", func(o *Options) { o.Resume, o.Force = true, true }, []string{"choose one"}},
	}
	for _, c := range cases {
		oo := o
		c.mod(&oo)
		_, err := Run(context.Background(), oo)
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q", c.name, w)
			}
		}
		sameHashes(t, c.name, before, hashDir(t, out))
	}
}

// TestForceStartsOver: --force replaces a run's files and leaves the
// directory's other files alone.
func TestForceStartsOver(t *testing.T) {
	out := t.TempDir()
	o := tiny(out)
	o.StopAt, o.SaveEvery, o.EvalEvery = 4, 2, 2
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"samples.txt", "metrics.png", "samples/000.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("the first run wrote no %s", f)
		}
	}
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	o.StopAt, o.Force, o.EvalEvery = 0, true, -1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"samples.txt", "metrics.png", "samples"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s of the old run survived --force", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "notes.txt")); string(b) != "mine" {
		t.Fatalf("notes.txt: %q", b)
	}
	steps := metricSteps(t, out)
	if len(steps) != 6 || steps[0] != 1 || steps[5] != 6 {
		t.Fatalf("metrics steps after --force: %v, want 1..6", steps)
	}
	ents, _ := os.ReadDir(filepath.Join(out, "ckpt"))
	if len(ents) != 2 || !strings.HasPrefix(ents[0].Name(), "step-0000006") {
		t.Fatalf("ckpt after --force: %v", ents)
	}
}

// metricSteps returns the step of every loss line of metrics.jsonl.
func metricSteps(t *testing.T, dir string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Step int      `json:"step"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		if l.Loss != nil {
			steps = append(steps, l.Step)
		}
	}
	return steps
}

func sameParams(t *testing.T, a, b string) {
	t.Helper()
	pa, pb := readParams(t, a), readParams(t, b)
	if len(pa) == 0 || len(pa) != len(pb) {
		t.Fatalf("%d vs %d tensors", len(pa), len(pb))
	}
	for n, va := range pa {
		for i := range va {
			if va[i] != pb[n][i] {
				t.Fatalf("%s[%d]: %s has %v, %s %v", n, i, a, va[i], b, pb[n][i])
			}
		}
	}
}

// TestResumeWithoutOptions: a run stopped halfway and resumed with nothing
// but Out and Resume (coca train --out DIR --resume) restores its own steps,
// seed, batch, schedule and model and ends bit-identical to the
// uninterrupted run, with the same metrics (a metrics line whose steps
// straddle the stop included).
func TestResumeWithoutOptions(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	a.Steps, a.Seed, a.LR, a.Warmup, a.Schedule = 8, 7, 3e-3, 3, "linear"
	a.LogEvery = 2 // the stop at step 3 splits a metrics line's window
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b := a
	b.Out, b.StopAt = filepath.Join(dir, "b"), 3
	if _, err := Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Out: b.Out, Resume: true, Progress: io.Discard, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 8 {
		t.Fatalf("resumed run ended at step %d, want the run's 8", res.Steps)
	}
	sameParams(t, filepath.Join(a.Out, "model.safetensors"), filepath.Join(b.Out, "model.safetensors"))
	ma, _ := os.ReadFile(filepath.Join(a.Out, "metrics.jsonl"))
	mb, _ := os.ReadFile(filepath.Join(b.Out, "metrics.jsonl"))
	if stripTimes(string(ma)) != stripTimes(string(mb)) {
		t.Fatalf("metrics differ:\n%s\nvs\n%s", ma, mb)
	}
}

// TestResumeRefusesConflicts names both values of every conflicting flag;
// settings that do not change the numbers may change.
func TestResumeRefusesConflicts(t *testing.T) {
	o := tiny(t.TempDir())
	o.StopAt = 2
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	r := Options{Out: o.Out, Resume: true, Progress: io.Discard, Log: io.Discard}
	r.Steps, r.BatchSize, r.LR = 10, 4, 1e-3
	r.Explicit = map[string]bool{"warmup": true}
	_, err := Run(context.Background(), r)
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, w := range []string{"--steps 10 (the run's is 6)", "--batch 4 on 1 rank(s) (the run's global batch is 8 × 1 = 8)", "--lr 0.001 (the run's is 0.002)",
		"--warmup 0 (the run's is 1)", "differ from the settings"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	r = Options{Out: o.Out, Resume: true, Progress: io.Discard, Log: io.Discard, LogEvery: 2, Samples: 3}
	if _, err := Run(context.Background(), r); err != nil {
		t.Fatalf("changing --log-every and --samples on resume: %v", err)
	}
}

// TestResumeCleansLeftovers: temp files of interrupted writes, checkpoint
// files checkpoint.json does not name, and metrics past the checkpoint are
// gone after a resume; no step is logged twice.
func TestResumeCleansLeftovers(t *testing.T) {
	o := tiny(t.TempDir())
	o.StopAt, o.SaveEvery = 3, 1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	junk := []string{".checkpoint.json.tmp123", ".model.safetensors.tmp9", "ckpt/.step-0000004.model.safetensors.tmp77",
		"ckpt/step-0000002.model.safetensors", "ckpt/step-0000002.optim.safetensors", "ckpt/step-0000004.model.safetensors"}
	for _, j := range junk {
		if err := os.WriteFile(filepath.Join(o.Out, j), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(o.Out, "keep.tmp.txt"), []byte("user"), 0o644)
	f, _ := os.OpenFile(filepath.Join(o.Out, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":4,"loss":9,"contrastive_loss":1,"caption_loss":8}` + "\n" + `{"step":5,"lo`)
	f.Close()
	o.StopAt, o.Resume = 0, true
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, j := range junk {
		if _, err := os.Stat(filepath.Join(o.Out, j)); err == nil {
			t.Errorf("%s survived the resume", j)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Out, "keep.tmp.txt")); err != nil {
		t.Errorf("a file that is not the run's was removed: %v", err)
	}
	steps := metricSteps(t, o.Out)
	want := []int{1, 2, 3, 4, 5, 6}
	if len(steps) != len(want) {
		t.Fatalf("metrics steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("metrics steps %v, want %v", steps, want)
		}
	}
}

// TestExplicitZero: zero loss weights and zero warmup named in Explicit are
// honoured (open_clip's caption-only recipe); unnamed zeros are defaults.
func TestExplicitZero(t *testing.T) {
	dir := t.TempDir()
	type line struct {
		Step        int     `json:"step"`
		Contrastive float64 `json:"contrastive_loss"`
		Caption     float64 `json:"caption_loss"`
		LR          float64 `json:"lr"`
	}
	read := func(o Options) []line {
		var out []line
		f, err := os.Open(filepath.Join(o.Out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l line
			json.Unmarshal(sc.Bytes(), &l)
			out = append(out, l)
		}
		return out
	}
	run := func(name string, steps int, explicit ...string) []line {
		o := tiny(filepath.Join(dir, name))
		o.Steps, o.StopAt = steps, min(steps, 3)
		o.Explicit = map[string]bool{}
		for _, e := range explicit {
			o.Explicit[e] = true
		}
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return read(o)
	}
	for _, l := range run("caption-only", 6, "contrastive-weight") {
		if l.Contrastive != 0 || !(l.Caption > 0) {
			t.Fatalf("--contrastive-weight 0: step %d contrastive %v caption %v, want exactly 0 and > 0", l.Step, l.Contrastive, l.Caption)
		}
	}
	for _, l := range run("contrastive-only", 6, "caption-weight") {
		if l.Caption != 0 || !(l.Contrastive > 0) {
			t.Fatalf("--caption-weight 0: step %d caption %v contrastive %v", l.Step, l.Caption, l.Contrastive)
		}
	}
	// 40 steps (of which 3 run): the default warmup is 2 steps (lr 1e-3 at
	// step 1); none gives the peak 2e-3 at once.
	if l := run("warmup-default", 40)[0]; l.LR != 1e-3 {
		t.Fatalf("default warmup: lr at step 1 %v, want 1e-3", l.LR)
	}
	if l := run("warmup-0", 40, "warmup")[0]; l.LR != 2e-3 {
		t.Fatalf("--warmup 0: lr at step 1 %v, want 2e-3", l.LR)
	}
	o := tiny(filepath.Join(dir, "both"))
	o.Explicit = map[string]bool{"caption-weight": true, "contrastive-weight": true}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "both 0") {
		t.Fatalf("both weights 0: %v", err)
	}
	o.Explicit = map[string]bool{"warmpu": true}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "warmpu") {
		t.Fatalf("unknown Explicit name: %v", err)
	}
}

// TestExplodingUpdateKeepsLastFiniteCheckpoint: an update that makes the
// parameters non-finite stops the run before anything is saved; the
// checkpoint the error names is the previous step's, it holds only finite
// values, and resuming it ends bit-identical to an uninterrupted run.
func TestExplodingUpdateKeepsLastFiniteCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b := tiny(filepath.Join(dir, "b"))
	b.SaveEvery = 2
	afterUpdate = func(step int, m *coca.Model) {
		if step == 3 {
			for _, p := range m.Params() {
				d := p.Tensor.Data()
				for i := range d {
					d[i] = d[i] * 1e38 * 1e38 // overflows, as an lr of 1e39 does
				}
			}
		}
	}
	_, err := Run(context.Background(), b)
	afterUpdate = nil
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, w := range []string{"step 3 (lr ", "the update made", "non-finite", "the last checkpoint, step 2", "--resume"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	info, ok, err := readCheckpointInfo(b.Out)
	if err != nil || !ok || info.Step != 2 {
		t.Fatalf("checkpoint %+v %v %v, want step 2", info, ok, err)
	}
	for n, v := range readParams(t, filepath.Join(b.Out, info.Model)) {
		if bad := countNonFinite(v); bad > 0 {
			t.Fatalf("checkpoint tensor %s holds %d non-finite values", n, bad)
		}
	}
	b.Resume = true
	if _, err := Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sameParams(t, filepath.Join(a.Out, "model.safetensors"), filepath.Join(b.Out, "model.safetensors"))
}

// TestDivergenceBeforeFirstCheckpoint: with no checkpoint yet the message
// says so (and when the first is due).
func TestDivergenceBeforeFirstCheckpoint(t *testing.T) {
	o := tiny(t.TempDir())
	o.LR = 1e39
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "step 1") || !strings.Contains(err.Error(), "no checkpoint was written before it (the first is due at step 6)") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
}

// TestGuardBeforeSave: parameters made non-finite between an update and a
// save (here by OnStep) are never saved; and a last checkpoint that does
// not load is not called intact.
func TestGuardBeforeSave(t *testing.T) {
	o := tiny(t.TempDir())
	o.SaveEvery = 1
	o.OnStep = func(s StepInfo) error {
		if s.Step == 4 {
			s.Model.Text.ClsEmb.Data()[1] = float32(math.Inf(1))
		}
		return nil
	}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "step 4: not saving a checkpoint with 1 of") || !strings.Contains(err.Error(), "the last checkpoint, step 3") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
	if info, _, _ := readCheckpointInfo(o.Out); info.Step != 3 {
		t.Fatalf("checkpoint at step %d, want 3", info.Step)
	}

	o = tiny(t.TempDir())
	o.SaveEvery = 2
	o.OnStep = func(s StepInfo) error {
		if s.Step == 3 {
			os.Truncate(filepath.Join(o.Out, "ckpt", "step-0000002.model.safetensors"), 100)
			s.Model.Visual.Proj.Data()[0] = float32(math.NaN())
		}
		return nil
	}
	_, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "step 4: loss is NaN") || !strings.Contains(err.Error(), "the last checkpoint (step 2) does not load") {
		t.Fatalf("error %v", err)
	}
	t.Log(err)
}

// TestCancelWritesCheckpoint: cancelling the context stops the run between
// steps with a checkpoint of the last step; resuming ends bit-identical to
// an uninterrupted run. An OnStep error stops it the same way.
func TestCancelWritesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b := tiny(filepath.Join(dir, "b"))
	ctx, cancel := context.WithCancel(context.Background())
	var seen []int
	b.OnStep = func(s StepInfo) error {
		seen = append(seen, s.Step)
		if s.Model == nil || math.IsNaN(s.Loss) || s.Steps != 6 {
			t.Errorf("step info %+v", s)
		}
		if s.Step == 2 {
			cancel()
		}
		return nil
	}
	_, err := Run(ctx, b)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped at step 2") {
		t.Fatalf("error %v, want context.Canceled at step 2", err)
	}
	if info, ok, _ := readCheckpointInfo(b.Out); !ok || info.Step != 2 {
		t.Fatalf("checkpoint %+v, want step 2", info)
	}
	stop := errors.New("enough")
	b.OnStep = func(s StepInfo) error {
		if s.Step == 4 {
			return stop
		}
		return nil
	}
	b.Resume = true
	if _, err := Run(context.Background(), b); !errors.Is(err, stop) {
		t.Fatalf("OnStep error: %v", err)
	}
	if info, ok, _ := readCheckpointInfo(b.Out); !ok || info.Step != 4 {
		t.Fatalf("checkpoint %+v, want step 4", info)
	}
	b.OnStep = nil
	if _, err := Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sameParams(t, filepath.Join(a.Out, "model.safetensors"), filepath.Join(b.Out, "model.safetensors"))
	if len(seen) != 2 || seen[1] != 2 {
		t.Fatalf("OnStep saw steps %v", seen)
	}
}

// TestDataSpecPaths: --data values are recorded absolute, shard lists in
// open_clip's "::" form (commas split only lists of .tar names, outside
// braces).
func TestDataSpecPaths(t *testing.T) {
	wd, _ := os.Getwd()
	for in, want := range map[string]string{
		"synthetic":                      "synthetic",
		"pairs.tsv":                      filepath.Join(wd, "pairs.tsv"),
		"a,b.tsv":                        filepath.Join(wd, "a,b.tsv"),
		"a.tar,/s/b.tar":                 filepath.Join(wd, "a.tar") + "::/s/b.tar",
		"x-{000..003}.tar::/y/{a,b}.tar": filepath.Join(wd, "x-{000..003}.tar") + "::/y/{a,b}.tar",
		"s-{a,b}.tar, t.tar":             filepath.Join(wd, "s-{a,b}.tar") + "::" + filepath.Join(wd, "t.tar"),
	} {
		got, err := normalizePath(in, pathData)
		if err != nil || got != want {
			t.Errorf("normalizePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
