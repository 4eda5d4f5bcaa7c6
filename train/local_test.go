package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/dist"
)

// TestRanksMatchOneRank: two in-process ranks of 4 reach the losses and
// parameters of one goroutine with the batch of 8, and record the run as
// 2 ranks × 4, which one goroutine resumes with its batch of 8.
func TestRanksMatchOneRank(t *testing.T) {
	dir := t.TempDir()
	one := tiny(filepath.Join(dir, "one"))
	one.Steps, one.Ranks = 5, 1
	if _, err := Run(context.Background(), one); err != nil {
		t.Fatal(err)
	}
	two := one
	two.Out, two.Ranks = filepath.Join(dir, "two"), 2
	if _, err := Run(context.Background(), two); err != nil {
		t.Fatal(err)
	}
	l, g, pt := compareRuns(t, one.Out, two.Out, 1e-5, false)
	t.Logf("relative differences: losses ≤ %.2g, parameters %.2g (whole model), ≤ %.2g (per tensor)", l, g, pt)
	if g == 0 {
		t.Errorf("two ranks reached one rank's parameters bit for bit: were they used?")
	}
	rec, ok, err := readRunSettings(two.Out)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if string(rec["ranks"]) != "2" || string(rec["batch"]) != "4" {
		t.Errorf("run.json records ranks %s, batch %s; want 2 and 4", rec["ranks"], rec["batch"])
	}
	// Two ranks stop at step 3; one goroutine resumes with the batch of 8.
	mixed := two
	mixed.Out, mixed.StopAt = filepath.Join(dir, "mixed"), 3
	if _, err := Run(context.Background(), mixed); err != nil {
		t.Fatal(err)
	}
	more := Options{Out: mixed.Out, Resume: true, Ranks: 1, Progress: one.Progress, Log: one.Log}
	res, err := Run(context.Background(), more)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 5 || res.Start != 3 {
		t.Errorf("resumed on one rank: steps %d from %d, want 5 from 3", res.Steps, res.Start)
	}
	compareRuns(t, one.Out, mixed.Out, 1e-5, false)
}

// TestRanksStop: in-process ranks stopped by rank 0's OnStep, or by the
// context, all stop after the same step with its checkpoint written, and
// the resumed run ends bit for bit where an uninterrupted one does.
func TestRanksStop(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	a.Ranks = 2
	if _, err := Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	errStop := errors.New("enough")
	for _, how := range []string{"onstep", "cancel"} {
		t.Run(how, func(t *testing.T) {
			b := a
			b.Out = filepath.Join(dir, how)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			calls := 0
			b.OnStep = func(s StepInfo) error {
				calls++
				if s.Step == 3 {
					if how == "cancel" {
						cancel(errStop)
						return nil
					}
					return errStop
				}
				return nil
			}
			_, err := Run(ctx, b)
			if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "stopped at step ") || !strings.Contains(err.Error(), "checkpoint is written") {
				t.Fatalf("Run: %v; want the stop at step 3 with its checkpoint", err)
			}
			const stepWant = 3 // the cancel is agreed after step 3, before step 4
			if !strings.Contains(err.Error(), fmt.Sprintf("stopped at step %d ", stepWant)) {
				t.Errorf("Run: %v; want a stop at step %d", err, stepWant)
			}
			if calls != 3 {
				t.Errorf("OnStep called %d times, want 3 (rank 0 only)", calls)
			}
			info, ok, err := readCheckpointInfo(b.Out)
			if err != nil || !ok || info.Step != stepWant {
				t.Fatalf("checkpoint: step %d, %v, %v; want step %d", info.Step, ok, err, stepWant)
			}
			b.OnStep, b.Resume = nil, true
			if _, err := Run(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			sameParams(t, filepath.Join(a.Out, "model.safetensors"), filepath.Join(b.Out, "model.safetensors"))
		})
	}
}

// TestRanksChoice: the number of in-process ranks a run gets.
func TestRanksChoice(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		o      Options
		want   int
		errHas string
	}{
		{"main job", Options{Out: dir}, 4, ""},
		{"batch 24: 3 of 8", Options{Out: dir, BatchSize: 24}, 3, ""},
		{"batch 12: too small to split", Options{Out: dir, BatchSize: 12}, 1, ""},
		{"wide model", Options{Out: dir, Config: "coca_ViT-B-32"}, 1, ""},
		{"off", Options{Out: dir, Ranks: 1}, 1, ""},
		{"explicit", Options{Out: dir, BatchSize: 6, Ranks: 3}, 3, ""},
		{"explicit, batch does not divide", Options{Out: dir, BatchSize: 8, Ranks: 3}, 0, "does not divide"},
		{"negative", Options{Out: dir, Ranks: -1}, 0, "want 0"},
		{"with a communicator", Options{Out: dir, Ranks: 2, Parallel: Parallel{Comm: dist.Single()}}, 0, "without --dist"},
		{"communicator, automatic", Options{Out: dir, Parallel: Parallel{Comm: dist.Single()}}, 1, ""},
	} {
		n, err := c.o.ranks()
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: %d, %v; want an error with %q", c.name, n, err, c.errHas)
			}
			continue
		}
		if err != nil || n != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, n, err, c.want)
		}
	}
	// On --resume the recorded global batch decides.
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Out: run, Resume: true, Config: "coca_shapes", BatchSize: 24, Explicit: map[string]bool{}}
	o.defaults()
	if err := os.WriteFile(filepath.Join(run, runFile), o.recordSettings(1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "config.json"), mustConfigJSON(t, "coca_shapes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := (&Options{Out: run, Resume: true}).ranks(); err != nil || n != 3 {
		t.Errorf("resume of a batch-24 run: %d, %v; want 3 ranks", n, err)
	}
}

// TestPickError: the error of in-process ranks is rank 0's, unless rank 0
// only saw another rank leave; then that rank's own.
func TestPickError(t *testing.T) {
	own := errors.New("rank 1: bad item")
	left := fmt.Errorf("dist: local rank 0: rank 1 left the group: %w", dist.ErrPeerLeft)
	if got := pickError([]error{left, own}, []error{own, left}); got != own {
		t.Errorf("got %v, want rank 1's own error", got)
	}
	r0 := errors.New("rank 0: disk full")
	if got := pickError([]error{r0, fmt.Errorf("x: %w", dist.ErrPeerLeft)}, []error{r0}); got != r0 {
		t.Errorf("got %v, want rank 0's", got)
	}
	if got := pickError([]error{nil, errRankStopped}, []error{errRankStopped}); got != errRankStopped {
		t.Errorf("got %v, want the only error", got)
	}
	if got := pickError([]error{nil, nil}, nil); got != nil {
		t.Errorf("got %v, want nil", got)
	}
}

func mustConfigJSON(t *testing.T, name string) []byte {
	t.Helper()
	c, err := coca.ResolveConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	return c.JSON()
}

// TestCountNonFinite: the count is exact whatever the sum does: NaN, ±Inf
// (also together, or where they cancel to NaN), finite values whose sum
// overflows, and long slices (the vector paths).
func TestCountNonFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	long := make([]float32, 1000)
	for i := range long {
		long[i] = float32(i%7) - 3
	}
	withAt := func(i int, v float32) []float32 {
		x := append([]float32(nil), long...)
		x[i] = v
		return x
	}
	for _, c := range []struct {
		name string
		x    []float32
		want int
	}{
		{"empty", nil, 0},
		{"finite", long, 0},
		{"overflowing sum", []float32{3e38, 3e38, -1, 3e38}, 0},
		{"NaN", withAt(999, nan), 1},
		{"+Inf", withAt(0, inf), 1},
		{"-Inf", withAt(500, -inf), 1},
		{"+Inf and -Inf", []float32{inf, 1, -inf}, 2},
		{"all kinds", []float32{nan, inf, -inf, 3e38, 3e38}, 3},
	} {
		if got := countNonFinite(c.x); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestRanksTooFewPairs: a captions file with fewer training pairs than the
// global batch fails on every rank with an error naming the global batch.
func TestRanksTooFewPairs(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"))
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "a.png\ta red circle number %d\n", i)
	}
	tsv := filepath.Join(dir, "pairs.tsv")
	if err := os.WriteFile(tsv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	o := tiny(filepath.Join(dir, "run"))
	o.Data, o.HeldOut, o.BatchSize, o.Ranks = tsv, 2, 32, 2
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "18 training pairs, fewer than one batch of 32 (2 ranks × 16)") {
		t.Fatalf("error %v, want one naming the 18 pairs and the batch of 32 on 2 ranks", err)
	}
}
