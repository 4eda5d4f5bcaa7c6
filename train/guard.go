package train

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
)

// The divergence guard. A run checks that every parameter is finite after
// every update and before every save (and the optimizer state before every
// save), so no checkpoint ever holds a non-finite value; when a loss or an
// update goes non-finite the run stops, and the checkpoint it names as the
// one to resume from has been loaded back and checked.

// updateGuard defers the check of an update under a device backend: the
// non-finite parameter values are counted on the device after the update
// (tensor.CountNonFinite) and the count is read with the next step's
// losses, in the same copy, so a step waits for the GPU only where it
// reads its losses and its gradient norm. An evaluation, a checkpoint,
// OnStep and the end of a run read a pending count first (one wait).
// Once the count is not 0 the parameters are read (with copies) to say
// how many values and which tensor. A data-parallel rank reads the count
// at once (one wait). On the host the parameters are checked at once.
type updateGuard struct {
	count     *tensor.Tensor // one value on the device
	pending   int            // the step whose update count holds (0: none)
	lr        float64        // that step's learning rate
	scale     float32        // logit_scale as the last losses read it
	scaleRead bool
}

// checkUpdate checks the parameters after the update of step (at once on
// the host, deferred on a device).
func (r *run) checkUpdate(step int, lr float64) error {
	if !tensor.OnDevice() {
		return r.updateError(step, lr, 0)
	}
	g := &r.guard
	if g.count == nil {
		g.count = tensor.New(1)
	}
	tensor.CountNonFinite(g.count, r.params...)
	g.pending, g.lr = step, lr
	g.scaleRead = false
	if r.dp != nil { // the ranks' step reads no losses of its own: read it now (one wait)
		return r.settleUpdate()
	}
	return nil
}

// settleUpdate reads a pending count (one wait) and reports a non-finite
// update.
func (r *run) settleUpdate() error {
	if r.guard.pending == 0 {
		return nil
	}
	return r.settleCount(r.guard.count.Item())
}

// settleCount reports the pending update as the count n says.
func (r *run) settleCount(n float32) error {
	step := r.guard.pending
	r.guard.pending = 0
	if n == 0 {
		return nil
	}
	return r.updateError(step, r.guard.lr, n)
}

// updateError reads every parameter and reports the non-finite values the
// update of step made (n: the count on the device, 0 when none was made).
func (r *run) updateError(step int, lr float64, n float32) error {
	bad, total, i := tensorsNonFinite(r.params)
	if bad == 0 && n == 0 {
		return nil
	}
	var first string // named only now: r.params is r.model.Params() in order
	if i >= 0 {
		first = r.model.Params()[i].Name
	}
	return fmt.Errorf("train: step %d (lr %.3g): the update made %d of %d parameter values non-finite (first in %s); stopping; %s",
		step, lr, bad, total, first, r.lastCheckpoint(0))
}

// logitScale returns the model's logit_scale for the log: the value the
// last losses were computed with, read with them, when it was (a device
// then waits no more), else the parameter's value now.
func (r *run) logitScale() float32 {
	if r.guard.scaleRead {
		return r.guard.scale
	}
	return r.model.LogitScale.Item()
}

// nonFinite counts the non-finite values of ts and names the first tensor
// holding one.
func nonFinite(names []string, ts [][]float32) (bad, total int, first string) {
	for i, d := range ts {
		n := countNonFinite(d)
		if n > 0 && first == "" {
			first = names[i]
		}
		bad += n
		total += len(d)
	}
	return bad, total, first
}

func countNonFinite(d []float32) int {
	// A non-finite value makes the sum non-finite (NaN or ±Inf in, NaN or
	// ±Inf out); a finite sum is one vector pass. A non-finite sum of
	// finite values (an overflow) falls through to the count.
	if s := asm.Sum(d); !math.IsNaN(float64(s)) && !math.IsInf(float64(s), 0) {
		return 0
	}
	n := 0
	for _, v := range d {
		// Exponent all ones: ±Inf or NaN.
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			n++
		}
	}
	return n
}

// paramsFinite checks a model's parameters (read with a copy each from a
// device).
func paramsFinite(m *coca.Model) (bad, total int, first string) {
	ps := m.Params()
	ts := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = p.Tensor
	}
	bad, total, i := tensorsNonFinite(ts)
	if i >= 0 {
		first = ps[i].Name
	}
	return bad, total, first
}

// tensorsNonFinite counts the non-finite values of ts (read with a copy
// each from a device) and returns the index of the first tensor holding
// one, or -1.
func tensorsNonFinite(ts []*tensor.Tensor) (bad, total, first int) {
	first = -1
	var buf []float32
	for i, t := range ts {
		v := tensor.HostValues(t, buf)
		if tensor.OnDevice() {
			buf = v
		}
		n := countNonFinite(v)
		if n > 0 && first < 0 {
			first = i
		}
		bad += n
		total += len(v)
	}
	return bad, total, first
}

// stateFinite checks an optimizer state.
func stateFinite(st optim.State) (bad, total int, first string) {
	keys := make([]string, 0, len(st.Tensors))
	for k := range st.Tensors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ts := make([][]float32, len(keys))
	for i, k := range keys {
		ts[i] = st.Tensors[k].Data
	}
	return nonFinite(keys, ts)
}

// newOptimizer builds the optimizer o names over params.
func newOptimizer(o *Options, params []*tensor.Tensor) (optim.Optimizer, error) {
	switch o.Optimizer {
	case "adamw":
		c := optim.DefaultAdamWConfig()
		c.WeightDecay = o.WeightDecay
		c.Beta2 = 0.98
		c.Eps = 1e-6
		return optim.NewAdamW(params, c)
	case "adafactor":
		c := optim.DefaultAdafactorConfig()
		c.WeightDecay = o.WeightDecay
		return optim.NewAdafactor(params, c)
	case "sgd":
		return optim.NewSGD(params, optim.SGDConfig{Momentum: 0.9, WeightDecay: o.WeightDecay})
	}
	return nil, fmt.Errorf("train: unknown optimizer %q (want adamw, adafactor or sgd)", o.Optimizer)
}

// verifyCheckpoint loads dir's checkpoint into a fresh model and optimizer,
// as --resume would, and checks that every value is finite.
func verifyCheckpoint(dir string, cfg *coca.Config, o *Options) (checkpointInfo, error) {
	m := coca.New(cfg)
	var params []*tensor.Tensor
	for _, p := range m.Params() {
		params = append(params, p.Tensor)
	}
	opt, err := newOptimizer(o, params)
	if err != nil {
		return checkpointInfo{}, err
	}
	info, err := loadCheckpoint(dir, m, opt)
	if err != nil {
		return info, err
	}
	if bad, total, first := paramsFinite(m); bad > 0 {
		return info, fmt.Errorf("%s: %d of %d parameter values are not finite (first in %s)", filepath.Join(dir, info.Model), bad, total, first)
	}
	if bad, total, first := stateFinite(opt.State()); bad > 0 {
		return info, fmt.Errorf("%s: %d of %d optimizer values are not finite (first in %s)", filepath.Join(dir, info.Optimizer), bad, total, first)
	}
	return info, nil
}

// lastCheckpoint is the end of a divergence message: which checkpoint to
// resume from, checked by loading it. lossStep is the step whose loss was
// not finite (0 when the divergence is elsewhere): a checkpoint of the step
// before it holds the very parameters that gave that loss, and a resumed
// run repeats the same batch, so resuming it would stop there again.
func (r *run) lastCheckpoint(lossStep int) string {
	o := &r.o
	if !r.isRoot() {
		return "rank 0 names the checkpoint to resume from"
	}
	_, ok, err := readCheckpointInfo(o.Out)
	if err != nil {
		return "the last checkpoint is unreadable: " + err.Error()
	}
	if !ok {
		return fmt.Sprintf("no checkpoint was written before it (the first is due at step %d)", min(o.SaveEvery, o.Steps))
	}
	info, err := verifyCheckpoint(o.Out, r.cfg, o)
	if err != nil {
		return fmt.Sprintf("the last checkpoint (step %d) does not load: %v", info.Step, err)
	}
	if lossStep > 0 && info.Step == lossStep-1 {
		return fmt.Sprintf("the last checkpoint, step %d (%s), holds only finite values, but they are the parameters that gave this loss: "+
			"--resume would stop here again; start the run over with a lower --lr (--force)",
			info.Step, filepath.Join(o.Out, checkpointFile))
	}
	return fmt.Sprintf("the last checkpoint, step %d (%s), loads and holds only finite values: continue from it with --resume "+
		"(the same settings and batches, so the same step comes again unless its cause was outside the run), "+
		"or start a new run from it with other settings (--init %s --lr ... --out NEW)",
		info.Step, filepath.Join(o.Out, checkpointFile), o.Out)
}
