package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// tiny returns options for a run small enough for unit tests: float32
// products, whose tolerances the tests state (the default, auto, is bf16
// on CPUs with AVX512_BF16; TestPrecisionAuto covers it).
func tiny(out string) Options {
	return Options{Out: out, Config: "coca_tiny", Steps: 6, BatchSize: 8, EvalEvery: -1, SaveEvery: 100,
		HeldOut: 16, Workers: 2, Seed: 3, LogEvery: 1, Precision: "f32", Progress: io.Discard, Log: io.Discard}
}

func readParams(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, n := range f.Names() {
		v, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}

// TestResumeIsExact: 2N steps in one go equal N steps, stop, resume, N steps.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b := tiny(filepath.Join(dir, "b"))
	b.StopAt = 3
	b.OnStep = func(s StepInfo) error {
		if s.Step == 2 {
			time.Sleep(300 * time.Millisecond) // the first session takes longer than the resumed one's first step
		}
		return nil
	}
	if _, err := Run(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.Out, "model.safetensors")); err == nil {
		t.Fatalf("a stopped run wrote its final model")
	}
	b.StopAt, b.OnStep = 0, nil
	b.Resume = true
	res, err := Run(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Start != 3 || res.Steps != 6 {
		t.Fatalf("resumed run: start %d, steps %d; want 3 and 6", res.Start, res.Steps)
	}
	// elapsed_s counts the whole run's time: it carries over the resume.
	var last float64
	mj, err := os.ReadFile(filepath.Join(b.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mj)), "\n") {
		var m struct {
			Step    int      `json:"step"`
			Elapsed *float64 `json:"elapsed_s"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m.Elapsed == nil {
			continue
		}
		if *m.Elapsed < last {
			t.Fatalf("step %d: elapsed_s %.3f, below the %.3f before it", m.Step, *m.Elapsed, last)
		}
		last = *m.Elapsed
	}
	if last < 0.3 {
		t.Fatalf("elapsed_s at the end %.3f, below the first session's 0.3 s sleep", last)
	}
	pa := readParams(t, filepath.Join(a.Out, "model.safetensors"))
	pb := readParams(t, filepath.Join(b.Out, "model.safetensors"))
	if len(pa) == 0 || len(pa) != len(pb) {
		t.Fatalf("%d vs %d tensors", len(pa), len(pb))
	}
	changed := false
	for n, va := range pa {
		vb := pb[n]
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", n, i, va[i], vb[i])
			}
		}
		if n == "visual.proj" && va[0] != 0 {
			changed = true
		}
	}
	if !changed {
		t.Fatalf("parameters look untrained")
	}
	// The metrics of both runs agree step for step.
	ma, _ := os.ReadFile(filepath.Join(a.Out, "metrics.jsonl"))
	mb, _ := os.ReadFile(filepath.Join(b.Out, "metrics.jsonl"))
	if stripTimes(string(ma)) != stripTimes(string(mb)) {
		t.Fatalf("metrics differ:\n%s\nvs\n%s", ma, mb)
	}
}

// stripTimes drops the timing fields of metrics lines.
func stripTimes(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, `,"images_per_s"`); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestNaNStopsTheRun: a NaN loss ends the run with an error naming the
// step, and the checkpoint it names loads and resumes.
func TestNaNStopsTheRun(t *testing.T) {
	o := tiny(t.TempDir())
	o.SaveEvery = 2
	o.OnStep = func(s StepInfo) error {
		if s.Step == 3 {
			s.Model.Visual.Proj.Data()[0] = float32(math.NaN())
		}
		return nil
	}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "step 4: loss is NaN") || !strings.Contains(err.Error(), "the last checkpoint, step 2") {
		t.Fatalf("error %v, want one naming step 4, NaN and the checkpoint of step 2", err)
	}
	t.Log(err)
	info, ok, err := readCheckpointInfo(o.Out)
	if err != nil || !ok || info.Step != 2 {
		t.Fatalf("checkpoint after NaN: %+v %v %v, want step 2", info, ok, err)
	}
	o.OnStep, o.Resume = nil, true
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatalf("resuming from the named checkpoint: %v", err)
	}
}

// TestNaNFromCheckpointedParameters: finite parameters that give a NaN
// loss at the next step (huge ones, as a huge learning rate leaves) are
// saved, since they are finite; the error then says that they gave the
// loss and that resuming them stops there again, which it does.
func TestNaNFromCheckpointedParameters(t *testing.T) {
	o := tiny(t.TempDir())
	o.SaveEvery = 1
	o.OnStep = func(s StepInfo) error {
		if s.Step == 3 {
			for _, p := range s.Model.Params() {
				d := p.Tensor.Data()
				for i := range d {
					d[i] = 1e30
				}
			}
		}
		return nil
	}
	_, err := Run(context.Background(), o)
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, w := range []string{"step 4: loss is ", "the last checkpoint, step 3", "the parameters that gave this loss", "--resume would stop here again"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	o.OnStep, o.Resume = nil, true
	_, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "step 4: loss is ") {
		t.Fatalf("resuming: %v, want the same stop at step 4", err)
	}
}

// TestInterruptedSaveKeepsLastCheckpoint kills a training process at
// random moments while it writes a checkpoint every step; each time the
// latest checkpoint must load.
func TestInterruptedSaveKeepsLastCheckpoint(t *testing.T) {
	if os.Getenv("GOCOCA_TRAIN_CHILD") != "" {
		o := tiny(os.Getenv("GOCOCA_TRAIN_CHILD"))
		o.Steps, o.SaveEvery = 100000, 1
		o.Resume = os.Getenv("GOCOCA_TRAIN_RESUME") != ""
		if _, err := Run(context.Background(), o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("spawns training processes")
	}
	dir := t.TempDir()
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptedSaveKeepsLastCheckpoint$")
		cmd.Env = append(os.Environ(), "GOCOCA_TRAIN_CHILD="+dir)
		if round > 0 {
			cmd.Env = append(cmd.Env, "GOCOCA_TRAIN_RESUME=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until this process has written a checkpoint of its own, then
		// kill it at an arbitrary point of the saves that follow.
		before, _, _ := readCheckpointInfo(dir)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if info, ok, _ := readCheckpointInfo(dir); ok && info.Step > before.Step {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+137*round) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		info, ok, err := readCheckpointInfo(dir)
		if err != nil || !ok {
			t.Fatalf("round %d: checkpoint.json unreadable after kill: %v %v (child stderr: %s)", round, ok, err, stderr.String())
		}
		cfg, _ := coca.Builtin("coca_tiny")
		cfg.Text.VocabSize, cfg.Multimodal.VocabSize = vocabOf(t, dir), vocabOf(t, dir)
		m := coca.New(cfg)
		var params = m.Params()
		ts := make([]*tensor.Tensor, 0, len(params))
		for _, p := range params {
			ts = append(ts, p.Tensor)
		}
		opt, err := optim.NewAdamW(ts, optim.DefaultAdamWConfig())
		if err != nil {
			t.Fatal(err)
		}
		got, err := loadCheckpoint(dir, m, opt)
		if err != nil {
			t.Fatalf("round %d: latest checkpoint (step %d) does not load after kill: %v", round, info.Step, err)
		}
		if got.Step <= before.Step {
			t.Fatalf("round %d: the run made no progress (checkpoint step %d)", round, got.Step)
		}
		t.Logf("round %d: killed; checkpoint at step %d loads", round, got.Step)
	}
}

func vocabOf(t *testing.T, dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return 512 + strings.Count(strings.TrimSpace(string(b)), "\n") + 2
}

// TestBadDataNamesTheFile: a captions file naming a missing image stops
// the run with an error naming the file and line; with SkipBad the item is
// skipped.
func TestBadDataNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	tsv := filepath.Join(dir, "pairs.tsv")
	if err := os.WriteFile(tsv, []byte("a.png\ta red circle\nmissing.png\ta blue square\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, "a.png"))
	o := tiny(filepath.Join(dir, "run"))
	o.Data = tsv
	_, err := Run(context.Background(), o)
	// file:line, as data's errors write it (a bare "2" would match the temp path)
	if err == nil || !strings.Contains(err.Error(), tsv+":2:") {
		t.Fatalf("error %v, want one naming %s:2", err, tsv)
	}
	empty := filepath.Join(dir, "empty.tsv")
	os.WriteFile(empty, nil, 0o644)
	o.Data = empty
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "empty.tsv") {
		t.Fatalf("empty captions file: error %v, want one naming it", err)
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
