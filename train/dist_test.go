package train

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gococa/gococa/dist"
)

// runRanks trains with o on n in-process ranks (rank r's Out is o.Out for
// rank 0) and returns each rank's error.
func runRanks(n int, o Options) []error { return runRanksWith(n, o, nil) }

// runRanksWith is runRanks with change, when not nil, applied to each
// rank's copy of o.
func runRanksWith(n int, o Options, change func(rank int, o *Options)) []error {
	comms := dist.NewLocal(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			oo := o
			oo.Parallel.Comm = c
			if change != nil {
				change(r, &oo)
			}
			_, errs[r] = Run(context.Background(), oo)
			c.Close()
		}()
	}
	wg.Wait()
	return errs
}

type lossLine struct {
	Step        int     `json:"step"`
	Loss        float64 `json:"loss"`
	Contrastive float64 `json:"contrastive_loss"`
	Caption     float64 `json:"caption_loss"`
}

func readLosses(t *testing.T, dir string) []lossLine {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []lossLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l lossLine
		if strings.Contains(sc.Text(), `"loss"`) {
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
	}
	return out
}

// relDiff is |a−b| / max(|b|, tiny).
func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-30) }

// compareRuns checks that run b reached the losses and parameters of run a
// within tol relative: losses value by value; parameters per tensor
// (max|a−b| / max|a|) when perTensor, else over the whole model
// (‖a−b‖ / ‖a‖). It returns the worst loss difference, the whole-model
// difference and the worst per-tensor one.
//
// Adam-type optimizers divide each gradient by its own running magnitude,
// so a parameter whose gradient is only rounding noise (the key bias of
// attention: its true gradient is exactly zero, softmax ignores a constant
// added to a row of scores) takes steps that depend on that noise, and two
// exact computations that sum in different orders end up apart there. Their
// runs are compared over the whole model; SGD's per tensor.
func compareRuns(t *testing.T, a, b string, tol float64, perTensor bool) (lossWorst, global, tensorWorst float64) {
	t.Helper()
	la, lb := readLosses(t, a), readLosses(t, b)
	if len(la) == 0 || len(la) != len(lb) {
		t.Fatalf("%d vs %d loss lines", len(la), len(lb))
	}
	for i := range la {
		if la[i].Step != lb[i].Step {
			t.Fatalf("line %d: step %d vs %d", i, la[i].Step, lb[i].Step)
		}
		for _, p := range [][2]float64{{la[i].Loss, lb[i].Loss}, {la[i].Contrastive, lb[i].Contrastive}, {la[i].Caption, lb[i].Caption}} {
			d := relDiff(p[1], p[0])
			lossWorst = math.Max(lossWorst, d)
			if d > tol {
				t.Errorf("step %d: losses %+v vs %+v (%.2g relative)", la[i].Step, la[i], lb[i], d)
			}
		}
	}
	pa := readParams(t, filepath.Join(a, "model.safetensors"))
	pb := readParams(t, filepath.Join(b, "model.safetensors"))
	if len(pa) == 0 || len(pa) != len(pb) {
		t.Fatalf("%d vs %d tensors", len(pa), len(pb))
	}
	var num, den float64
	for n, va := range pa {
		vb := pb[n]
		if len(vb) != len(va) {
			t.Fatalf("%s: %d vs %d values", n, len(va), len(vb))
		}
		var scale, diff float64
		for i := range va {
			x, y := float64(va[i]), float64(vb[i])
			scale = math.Max(scale, math.Abs(x))
			diff = math.Max(diff, math.Abs(x-y))
			num += (x - y) * (x - y)
			den += x * x
		}
		d := diff / math.Max(scale, 1e-30)
		tensorWorst = math.Max(tensorWorst, d)
		if perTensor && d > tol {
			t.Errorf("%s: max |diff| %.3g of max |value| %.3g (%.2g relative)", n, diff, scale, d)
		}
	}
	global = math.Sqrt(num / den)
	if global > tol {
		t.Errorf("parameters differ by %.2g relative (‖a−b‖/‖a‖)", global)
	}
	return lossWorst, global, tensorWorst
}

// TestDataParallelMatchesOneProcess: 2 ranks × batch 4 reach the losses and
// parameters of one process with batch 8, with either contrastive loss
// and with the gradient all-reduce in several buckets or in one.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		optimizer, loss string
		bucket          float64
	}{{"sgd", "gather", 0.01}, {"adamw", "gather", 0.01}, {"adamw", "local", -1}} {
		t.Run(fmt.Sprintf("optimizer=%s/loss=%s/bucket=%g", c.optimizer, c.loss, c.bucket), func(t *testing.T) {
			single := tiny(filepath.Join(dir, "single-"+c.optimizer))
			single.Steps, single.BatchSize, single.Optimizer = 5, 8, c.optimizer
			if _, err := os.Stat(single.Out); err != nil {
				if _, err := Run(context.Background(), single); err != nil {
					t.Fatal(err)
				}
			}
			o := single
			o.Out = filepath.Join(dir, c.optimizer+"-"+c.loss)
			o.BatchSize = 4
			o.Parallel = Parallel{Loss: c.loss, BucketMB: c.bucket}
			for r, err := range runRanks(2, o) {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			l, g, pt := compareRuns(t, single.Out, o.Out, 1e-5, c.optimizer == "sgd")
			t.Logf("relative differences: losses ≤ %.2g, parameters %.2g (whole model), ≤ %.2g (per tensor)", l, g, pt)
		})
	}
}

// TestDataParallelResume: 2 ranks stop at step 3 and resume from rank 0's
// checkpoint (the others' scratch directories are gone), ending where an
// uninterrupted 2-rank run ends.
func TestDataParallelResume(t *testing.T) {
	dir := t.TempDir()
	a := tiny(filepath.Join(dir, "a"))
	a.BatchSize = 4
	a.Parallel.BucketMB = 0.01
	b := a
	b.Out = filepath.Join(dir, "b")
	for r, err := range runRanks(2, a) {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	b.StopAt = 3
	for r, err := range runRanks(2, b) {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	b.StopAt, b.Resume = 0, true
	for r, err := range runRanks(2, b) {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	sameParams(t, filepath.Join(a.Out, "model.safetensors"), filepath.Join(b.Out, "model.safetensors"))
}

// TestDataParallelMismatch: ranks that build different models, or take
// their products in different precisions (as --precision auto can on hosts
// with and without AVX512_BF16), fail at the start with an error saying so.
func TestDataParallelMismatch(t *testing.T) {
	for _, c := range []struct {
		name, want string
		change     func(*Options)
	}{
		{"batch", "model config, tokenizer, optimizer or batch size", func(o *Options) { o.BatchSize = 2 }},
		{"precision", "precision (--precision auto", func(o *Options) { o.Precision = "bf16" }},
	} {
		errs := runRanksWith(2, tiny(t.TempDir()), func(r int, o *Options) {
			if r == 1 {
				c.change(o)
			}
		})
		for r, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "differ from rank 0") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: rank %d: %v, want an error saying the ranks' %s differ", c.name, r, err, c.name)
			}
		}
	}
}
