package train

// In-process data parallelism (Options.Ranks): a small model's matrix
// products are too small to share well between cores (a training step of
// coca_shapes runs thousands of products of a few microseconds each, and
// splitting each of them gained 1.15× from a second core), so the step is
// split instead: R goroutines, each on its share of the cores, run the
// data-parallel training of dist.go over an in-process group
// (dist.NewLocal), each on its R-th of the global batch. The union of their
// batches is the batch one goroutine would take, so the run differs from a
// single-rank one by float rounding only, and either can resume the other.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/dist"
	"github.com/gococa/gococa/tensor"
)

// autoRanksMaxWidth is the widest model that trains on several in-process
// ranks by default: wider models' products are large enough to share
// between cores.
const autoRanksMaxWidth = 256

// minRankBatch is the smallest per-rank batch chosen by default.
const minRankBatch = 8

// ranks returns how many in-process ranks train the run (1: the caller's
// goroutine alone), or an error for an explicit count that cannot be used.
func (o *Options) ranks() (int, error) {
	if o.Ranks < 0 {
		return 0, fmt.Errorf("train: --ranks %d: want 0 (automatic), 1 (off) or more", o.Ranks)
	}
	if o.Ranks == 1 || o.Parallel.Comm != nil || tensor.OnDevice() {
		if o.Ranks > 1 {
			return 0, fmt.Errorf("train: --ranks %d: in-process ranks train on the CPU without --dist", o.Ranks)
		}
		return 1, nil
	}
	global, ok := o.globalBatch()
	if !ok {
		return 1, nil // the single-rank setup reports what is wrong
	}
	if n := o.Ranks; n > 1 {
		if global%n != 0 {
			return 0, fmt.Errorf("train: --ranks %d: the batch of %d does not divide among %d ranks", n, global, n)
		}
		return n, nil
	}
	if !o.smallModel() {
		return 1, nil
	}
	for n := runtime.GOMAXPROCS(0); n > 1; n-- {
		if global%n == 0 && global/n >= minRankBatch {
			return n, nil
		}
	}
	return 1, nil
}

// globalBatch is the run's batch: --batch, or on --resume the recorded one.
func (o *Options) globalBatch() (int, bool) {
	if o.isSet("batch") {
		return o.BatchSize, o.BatchSize > 0
	}
	if !o.Resume {
		return 64, true
	}
	rec, ok, err := readRunSettings(o.Out)
	if err != nil || !ok {
		return 0, false
	}
	var batch, ranks int
	ranks = 1
	if raw, ok := rec["batch"]; !ok || json.Unmarshal(raw, &batch) != nil || batch < 1 {
		return 0, false
	}
	if raw, ok := rec["ranks"]; ok && (json.Unmarshal(raw, &ranks) != nil || ranks < 1) {
		return 0, false
	}
	return batch * ranks, true
}

// smallModel reports whether the run's model is at most autoRanksMaxWidth
// wide (unknown models are not).
func (o *Options) smallModel() bool {
	var cfg *coca.Config
	var err error
	switch {
	case o.Resume:
		cfg, err = coca.LoadConfig(filepath.Join(o.Out, "config.json"))
	case o.Init != "":
		return false
	default:
		name := o.Config
		if name == "" {
			name = "coca_shapes"
		}
		cfg, err = coca.ResolveConfig(name)
	}
	if err != nil {
		return false
	}
	return cfg.Vision.Width <= autoRanksMaxWidth && cfg.Text.Width <= autoRanksMaxWidth && cfg.Multimodal.Width <= autoRanksMaxWidth
}

// runInProcess trains o on n in-process ranks and returns rank 0's result, or
// the first error a rank met (the others then fail naming it).
func runInProcess(ctx context.Context, o Options, n int) (*Result, error) {
	global, _ := o.globalBatch()
	comms := dist.NewLocal(n)
	defer asm.SideBySide(n)()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []error // the ranks' errors, in the order they came
	errs := make([]error, n)
	var res *Result
	for r, c := range comms {
		oo := o
		oo.Explicit = maps.Clone(o.Explicit)
		if oo.Explicit == nil {
			oo.Explicit = map[string]bool{}
		}
		oo.Parallel.Comm, oo.Parallel.inProcess = c, true
		oo.BatchSize = global / n
		oo.Explicit["batch"] = true
		if r != 0 {
			oo.OnStep = nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runOne(ctx, oo)
			mu.Lock()
			res0 := r == 0
			if res0 {
				res = out
			}
			errs[r] = err
			if err != nil {
				order = append(order, err)
			}
			mu.Unlock()
			c.Close() // the others' collectives fail instead of waiting
		}()
	}
	wg.Wait()
	return res, pickError(errs, order)
}

// pickError chooses the error runInProcess reports: rank 0's, unless it only
// says that another rank left the group; then the first error of a rank
// that failed on its own.
func pickError(errs, order []error) error {
	if errs[0] != nil && !errors.Is(errs[0], dist.ErrPeerLeft) {
		return errs[0]
	}
	for _, err := range order {
		if !errors.Is(err, dist.ErrPeerLeft) && !errors.Is(err, errRankStopped) {
			return err
		}
	}
	if len(order) > 0 {
		return order[0]
	}
	return nil
}

// errRankStopped is what ranks other than 0 return when rank 0's OnStep
// stopped the run.
var errRankStopped = errors.New("train: stopped by rank 0")

// agreeHalt makes the in-process ranks take the same decision after a
// step: stop because rank 0's OnStep failed (onStep), or because the
// context was cancelled on some rank (cancelled). Ranks of other groups
// decide on their own (each process sees its own signals).
func (r *run) agreeHalt(stepErr error) (onStep, cancelled bool, err error) {
	d := r.dp
	flags := d.halt[:]
	clear(flags)
	if stepErr != nil {
		flags[0] = 1
	}
	if r.ctx.Err() != nil {
		flags[1] = 1
	}
	if err := d.comm.AllReduceSum(flags); err != nil {
		return false, false, err
	}
	return flags[0] > 0, flags[1] > 0, nil
}

// batchText describes the batch for the log and the report: the global
// batch, and how in-process ranks split it.
func (r *run) batchText() string {
	if r.inProcess() {
		return fmt.Sprintf("%d (%d ranks × %d)", r.dp.size*r.o.BatchSize, r.dp.size, r.o.BatchSize)
	}
	return fmt.Sprint(r.o.BatchSize)
}
