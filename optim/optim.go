// Package optim updates parameters from their gradients: AdamW, Adafactor
// and SGD with momentum; learning-rate schedules; global-norm gradient
// clipping, gradient accumulation and the logit-scale clamp CoCa needs.
//
// A training step reads
//
//	loss := model.Loss(batch)
//	tensor.Backward(loss)
//	tensor.Release(loss)
//	optim.ClipGradNorm(params, 1.0)  // optional
//	opt.Step(sched.LR(step))
//	optim.ClampLogitScale(logitScale)
//	opt.ZeroGrad()
//
// Optimizers are constructed over a list of named parameters
// (tensor.NewParam); the name keys the optimizer state (State, LoadState)
// and chooses the weight-decay group (NoDecay). A parameter whose Grad is nil
// when Step runs is skipped: neither its value, its moments nor its step
// count change, as in PyTorch where p.grad is None.
//
// Gradient accumulation: Backward accumulates (+=) into Grad, so running
// n micro-batches before one Step sums their gradients. Either scale the loss
// by 1/n, or call ScaleGrads(params, 1/n) before Step (and before
// ClipGradNorm), then Step and ZeroGrad once every n micro-batches.
//
// Numbers: optimizer state is float32, like the parameters, and updates are
// computed in float32 as PyTorch computes them, with the per-step scalars
// (bias corrections, decay factors) computed in float64 and rounded to
// float32 where PyTorch passes a Python float to a float32 kernel. Where an
// equivalent rearrangement saves a division per value (AdamW's step size,
// Adafactor's clipping and learning rate in one factor) it is used and
// documented. Results match PyTorch to a few float32 roundings (the tests
// check 1e-6 relative after 5 steps; measured ≤ 1.2e-7 on amd64, 1.5e-7 on
// arm64) and are bit-for-bit reproducible: Step splits the work the same
// way whatever GOMAXPROCS is, and every reduction is summed in a fixed
// order.
//
// Step allocates nothing after the first call; elementwise updates (AdamW,
// SGD) are split into chunks run on up to GOMAXPROCS goroutines (the caller
// and a pool of helpers the package starts once and keeps), Adafactor runs
// one parameter per goroutine, largest first.
//
// Backends: AdamW and SGD updates, the gradient-norm sums and ScaleGrads
// run through the current tensor backend's kernels (tensor.Backend.AdamW,
// SGD, SumSquares, Scale), so that they run where the parameters live; on
// the CPU backend those are the loops described here. With a device
// backend (tensor.OnDevice) AdamW and SGD issue one kernel per parameter
// instead of splitting the work over goroutines, and the state buffers
// come from tensor.Alloc. A device backend with multi-tensor kernels (see
// device.go; the CUDA backend has them) does AdamW, the gradient norm,
// ScaleGrads, ZeroGrad and the logit-scale clamp in one backend call each
// for all parameters, on the device. Adafactor runs on the device when
// the backend has an Adafactor kernel (the CUDA backend's AdafactorStep,
// one call per parameter), else on the host: correct with a device
// backend whose memory the host can address (CUDA managed memory), but
// its parameters then travel to the host and back every step.
package optim

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gococa/gococa/tensor"
)

// Optimizer is the interface shared by AdamW, Adafactor and SGD. Its
// methods are not safe for concurrent use; Step runs its own goroutines.
type Optimizer interface {
	// Step updates every parameter that has a gradient, with learning
	// rate lr (usually a Schedule's LR(step)).
	Step(lr float64)
	// ZeroGrad sets every parameter's gradient to zero (keeping buffers).
	ZeroGrad()
	// State returns a deep copy of the optimizer state for checkpoints.
	State() State
	// LoadState replaces the optimizer state with a copy of s. It rejects
	// a state of another algorithm, a missing or unknown parameter, or a
	// tensor of the wrong shape, with an error naming the parameter; on
	// error the optimizer is left unchanged.
	LoadState(s State) error
}

// param is one parameter with its bookkeeping.
type param struct {
	t     *tensor.Tensor
	name  string
	shape []int
	n     int
	decay bool // weight decay applies
	step  int  // updates applied to this parameter (PyTorch's state["step"])
}

// chooseDecay returns the rule to use: rule, or NoDecay when nil.
func chooseDecay(rule func(string, []int) bool) func(string, []int) bool {
	if rule == nil {
		return NoDecay
	}
	return rule
}

// newParams validates params (non-nil, named, unique names) and records
// their shapes and decay groups.
func newParams(fn string, params []*tensor.Tensor, noDecay func(string, []int) bool) ([]param, error) {
	noDecay = chooseDecay(noDecay)
	ps := make([]param, len(params))
	seen := make(map[string]int, len(params))
	for i, t := range params {
		if t == nil {
			return nil, fmt.Errorf("optim: %s: parameter %d is nil", fn, i)
		}
		name := t.Name()
		if name == "" {
			return nil, fmt.Errorf("optim: %s: parameter %d (shape %v) has no name; the state is keyed by name", fn, i, t.Shape())
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("optim: %s: parameter name %q used twice (indices %d and %d)", fn, name, j, i)
		}
		seen[name] = i
		shape := append([]int(nil), t.Shape()...)
		ps[i] = param{t: t, name: name, shape: shape, n: t.Numel(), decay: !noDecay(name, shape)}
	}
	return ps, nil
}

// grad returns p's gradient or nil, checking its length.
func (p *param) grad() []float32 {
	g := p.t.Grad()
	if g != nil && len(g) != p.n {
		panic(fmt.Sprintf("optim: parameter %q of shape %v has a gradient of %d values", p.name, p.shape, len(g)))
	}
	return g
}

func zeroGrads(ps []param) {
	if k, ok := deviceKernel[fillAller](); ok {
		var gs [][]float32
		for i := range ps {
			if g := ps[i].t.Grad(); len(g) > 0 {
				gs = append(gs, g)
			}
		}
		k.FillAll(gs, 0)
		return
	}
	for i := range ps {
		ps[i].t.ZeroGrad()
	}
}

// checkFinite returns an error naming field when v is NaN or infinite.
func checkFinite(fn, field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("optim: %s: %s is %v", fn, field, v)
	}
	return nil
}

func checkRange(fn, field string, v, lo, hi float64, hiOpen bool) error {
	if err := checkFinite(fn, field, v); err != nil {
		return err
	}
	if v < lo || v > hi || (hiOpen && v == hi) {
		closing := "]"
		if hiOpen {
			closing = ")"
		}
		return fmt.Errorf("optim: %s: %s = %v is outside [%v, %v%s", fn, field, v, lo, hi, closing)
	}
	return nil
}

// item is one unit of parallel work: values [lo, hi) of parameter p.
type item struct{ p, lo, hi int }

// chunk is the number of values in one elementwise work item: large enough
// to amortise scheduling, small enough to balance two to dozens of cores.
// (A variable so that tests can force many small items.)
var chunk = 1 << 15

// runner runs a fixed list of work items on the calling goroutine and up to
// GOMAXPROCS−1 pool workers. Items are claimed through an atomic counter;
// the split never depends on the number of goroutines, so results do not
// either.
type runner struct {
	items []item
	total int // values over all items
	fn    func(item)
	next  atomic.Int64
	wg    sync.WaitGroup
}

// newElementwise splits every parameter into chunks of at most chunk values.
func newElementwise(ps []param, fn func(item)) *runner {
	r := &runner{fn: fn}
	for i := range ps {
		for lo := 0; lo < ps[i].n; lo += chunk {
			r.items = append(r.items, item{i, lo, min(lo+chunk, ps[i].n)})
		}
		r.total += ps[i].n
	}
	return r
}

// newPerParam makes one item per parameter, largest first.
func newPerParam(ps []param, fn func(item)) *runner {
	r := &runner{fn: fn}
	for i := range ps {
		r.items = append(r.items, item{i, 0, ps[i].n})
		r.total += ps[i].n
	}
	sort.SliceStable(r.items, func(a, b int) bool { return r.items[a].hi > r.items[b].hi })
	return r
}

// serialBelow is the total size under which a step runs on one goroutine
// (a variable so that tests can force the parallel path).
var serialBelow = 1 << 16

func (r *runner) run() {
	helpers := min(runtime.GOMAXPROCS(0), len(r.items)) - 1
	if helpers <= 0 || r.total < serialBelow {
		for _, it := range r.items {
			r.fn(it)
		}
		return
	}
	startWorkers(helpers)
	r.next.Store(0)
	r.wg.Add(helpers)
	for range helpers {
		workers.tasks <- r
	}
	r.loop()
	r.wg.Wait()
}

func (r *runner) loop() {
	for {
		i := int(r.next.Add(1)) - 1
		if i >= len(r.items) {
			return
		}
		r.fn(r.items[i])
	}
}

// workers is the package's pool of helper goroutines. They are started on
// first need (never more than GOMAXPROCS−1 of them at a time in use) and
// then wait for work for the life of the process, so a step starts no
// goroutine and allocates nothing. A helper that picks up a runner after
// the caller has claimed every item just signals done.
var workers struct {
	started atomic.Int32
	mu      sync.Mutex
	tasks   chan *runner
}

func startWorkers(n int) {
	if int(workers.started.Load()) >= n {
		return
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.tasks == nil {
		workers.tasks = make(chan *runner, 256)
	}
	for int(workers.started.Load()) < n {
		workers.started.Add(1)
		go worker(workers.tasks)
	}
}

func worker(tasks <-chan *runner) {
	for r := range tasks {
		r.loop()
		r.wg.Done()
	}
}

// errState is wrapped by every LoadState error.
var errState = errors.New("optim: bad optimizer state")

var (
	_ Optimizer = (*AdamW)(nil)
	_ Optimizer = (*Adafactor)(nil)
	_ Optimizer = (*SGD)(nil)
)
