package optim

import (
	"math"

	"github.com/gococa/gococa/tensor"
)

// AdamWConfig configures AdamW. DefaultAdamWConfig gives PyTorch's defaults.
type AdamWConfig struct {
	Beta1       float64 // first-moment decay, in [0, 1); PyTorch default 0.9
	Beta2       float64 // second-moment decay, in [0, 1); PyTorch default 0.999
	Eps         float64 // added after the square root; PyTorch default 1e-8
	WeightDecay float64 // decoupled decay per unit learning rate; PyTorch default 0.01
	// NoDecay picks the parameters exempt from weight decay; nil means
	// the package's NoDecay rule.
	NoDecay func(name string, shape []int) bool
}

// DefaultAdamWConfig returns torch.optim.AdamW's defaults: betas (0.9,
// 0.999), eps 1e-8, weight decay 0.01.
func DefaultAdamWConfig() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), computed
// as torch.optim.AdamW (amsgrad off). For a parameter p with gradient g at
// its t-th update (t from 1), with learning rate lr:
//
//	p = p·(1 − lr·wd)                 (decay group only)
//	m = β1·m + (1−β1)·g
//	v = β2·v + (1−β2)·g²
//	p = p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)
//
// The last line is computed in the equivalent form of Kingma & Ba's
// Algorithm 1 note, p − α̂·m/(√v + ε̂) with α̂ = lr·√(1−β2ᵗ)/(1−β1ᵗ) and
// ε̂ = eps·√(1−β2ᵗ): one square root and one division per value. The
// result differs from PyTorch's order of operations by float32 rounding
// only (the tests bound it at 1e-6 relative after 5 steps).
type AdamW struct {
	cfg    AdamWConfig
	ps     []param
	slots  [][]slot // per parameter: exp_avg, exp_avg_sq
	steps  int
	run    *runner
	cur    []adamScalars // per parameter, this step's constants
	active []bool        // per parameter: updated in this step
	all    adamAll       // stepAll's operand lists, reused
}

type adamAll struct {
	ws, gs, ms, vs [][]float32
	steps          []tensor.AdamWStep
}

type adamScalars struct {
	decay, negStep, eps float32 // 1 − lr·wd, −α̂, ε̂
}

// NewAdamW makes an AdamW optimizer over params, which must be named
// uniquely. It returns an error naming the field for an invalid config.
func NewAdamW(params []*tensor.Tensor, cfg AdamWConfig) (*AdamW, error) {
	const fn = "NewAdamW"
	if err := checkRange(fn, "Beta1", cfg.Beta1, 0, 1, true); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "Beta2", cfg.Beta2, 0, 1, true); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "Eps", cfg.Eps, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "WeightDecay", cfg.WeightDecay, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	ps, err := newParams(fn, params, cfg.NoDecay)
	if err != nil {
		return nil, err
	}
	o := &AdamW{cfg: cfg, ps: ps, slots: make([][]slot, len(ps)),
		cur: make([]adamScalars, len(ps)), active: make([]bool, len(ps))}
	for i := range ps {
		o.slots[i] = []slot{newSlot("exp_avg", ps[i].shape...), newSlot("exp_avg_sq", ps[i].shape...)}
	}
	o.run = newElementwise(ps, o.update)
	return o, nil
}

// Step applies one AdamW update with learning rate lr to every parameter
// that has a gradient.
func (o *AdamW) Step(lr float64) {
	o.steps++
	for i := range o.ps {
		p := &o.ps[i]
		o.active[i] = p.grad() != nil
		if !o.active[i] {
			continue
		}
		p.step++
		t := float64(p.step)
		wd := 0.0
		if p.decay {
			wd = o.cfg.WeightDecay
		}
		bc1 := 1 - math.Pow(o.cfg.Beta1, t)
		bc2Sqrt := math.Sqrt(1 - math.Pow(o.cfg.Beta2, t))
		o.cur[i] = adamScalars{
			decay:   float32(1 - lr*wd),
			negStep: float32(-lr * bc2Sqrt / bc1),
			eps:     float32(o.cfg.Eps * bc2Sqrt),
		}
	}
	if k, ok := deviceKernel[adamWAller](); ok {
		o.stepAll(k)
		return
	}
	if tensor.OnDevice() {
		// One kernel per parameter where the parameters live.
		for i := range o.ps {
			o.update(item{i, 0, o.ps[i].n})
		}
		return
	}
	o.run.run()
}

// update runs the AdamW update on one chunk.
func (o *AdamW) update(it item) {
	if !o.active[it.p] {
		return
	}
	p := &o.ps[it.p]
	c := o.cur[it.p]
	w := p.t.Data()[it.lo:it.hi]
	g := p.t.Grad()[it.lo:it.hi]
	m := o.slots[it.p][0].data[it.lo:it.hi]
	v := o.slots[it.p][1].data[it.lo:it.hi]
	// The backend's AdamW kernel computes, per value (tensor.AdamWStep):
	//	m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g·g
	//	w = w·decay + negStep·m/(√v + ε̂)
	tensor.CurrentBackend().AdamW(w, g, m, v, tensor.AdamWStep{
		Beta1: float32(o.cfg.Beta1), Beta2: float32(o.cfg.Beta2),
		OneMinusBeta1: float32(1 - o.cfg.Beta1), OneMinusBeta2: float32(1 - o.cfg.Beta2),
		Decay: c.decay, NegStep: c.negStep, Eps: c.eps,
	})
}

// stepAll runs the update of every active parameter in one backend call.
func (o *AdamW) stepAll(k adamWAller) {
	a := &o.all
	ws, gs, ms, vs, steps := a.ws[:0], a.gs[:0], a.ms[:0], a.vs[:0], a.steps[:0]
	for i := range o.ps {
		if !o.active[i] {
			continue
		}
		p := &o.ps[i]
		c := o.cur[i]
		ws = append(ws, p.t.Data()[:p.n])
		gs = append(gs, p.t.Grad()[:p.n])
		ms = append(ms, o.slots[i][0].data[:p.n])
		vs = append(vs, o.slots[i][1].data[:p.n])
		steps = append(steps, tensor.AdamWStep{
			Beta1: float32(o.cfg.Beta1), Beta2: float32(o.cfg.Beta2),
			OneMinusBeta1: float32(1 - o.cfg.Beta1), OneMinusBeta2: float32(1 - o.cfg.Beta2),
			Decay: c.decay, NegStep: c.negStep, Eps: c.eps,
		})
	}
	k.AdamWAll(ws, gs, ms, vs, steps)
	*a = adamAll{ws, gs, ms, vs, steps}
}

// ZeroGrad zeroes every parameter's gradient.
func (o *AdamW) ZeroGrad() { zeroGrads(o.ps) }

// State returns a copy of the moments and step counts.
func (o *AdamW) State() State { return saveState("adamw", o.steps, o.ps, o.slots) }

// LoadState replaces the moments and step counts with a copy of s.
func (o *AdamW) LoadState(s State) error { return loadState("adamw", s, &o.steps, o.ps, o.slots) }
