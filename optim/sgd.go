package optim

import (
	"fmt"
	"math"

	"github.com/gococa/gococa/tensor"
)

// SGDConfig configures SGD. The zero value is plain SGD.
type SGDConfig struct {
	Momentum    float64 // momentum factor, ≥ 0; default 0 (no momentum buffer)
	Dampening   float64 // dampening of the gradient added to the buffer; default 0
	Nesterov    bool    // Nesterov momentum; needs Momentum > 0 and Dampening 0
	WeightDecay float64 // L2 penalty added to the gradient (coupled, as in torch.optim.SGD); default 0
	// NoDecay picks the parameters exempt from weight decay; nil means
	// the package's NoDecay rule.
	NoDecay func(name string, shape []int) bool
}

// SGD is stochastic gradient descent with momentum, computed as
// torch.optim.SGD. For a parameter p with gradient g, at its t-th update:
//
//	d = g + wd·p                       (decay group only)
//	b = d                              (t = 1)
//	b = μ·b + (1−dampening)·d          (t > 1)
//	d = d + μ·b  (Nesterov)  or  d = b
//	p = p − lr·d
//
// Without momentum there is no buffer and d is applied directly.
type SGD struct {
	cfg    SGDConfig
	ps     []param
	slots  [][]slot // per parameter: momentum_buffer when Momentum > 0
	steps  int
	run    *runner
	lr     float32
	first  []bool // per parameter: first update (buffer takes d)
	active []bool
}

// NewSGD makes an SGD optimizer over params, which must be named uniquely.
// It returns an error naming the field for an invalid config.
func NewSGD(params []*tensor.Tensor, cfg SGDConfig) (*SGD, error) {
	const fn = "NewSGD"
	if err := checkRange(fn, "Momentum", cfg.Momentum, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "Dampening", cfg.Dampening, -math.MaxFloat64, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "WeightDecay", cfg.WeightDecay, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("optim: %s: Nesterov needs Momentum > 0 and Dampening 0 (have %v and %v)", fn, cfg.Momentum, cfg.Dampening)
	}
	ps, err := newParams(fn, params, cfg.NoDecay)
	if err != nil {
		return nil, err
	}
	o := &SGD{cfg: cfg, ps: ps, slots: make([][]slot, len(ps)),
		first: make([]bool, len(ps)), active: make([]bool, len(ps))}
	for i := range ps {
		if cfg.Momentum != 0 {
			o.slots[i] = []slot{newSlot("momentum_buffer", ps[i].shape...)}
		}
	}
	o.run = newElementwise(ps, o.update)
	return o, nil
}

// Step applies one SGD update with learning rate lr to every parameter that
// has a gradient.
func (o *SGD) Step(lr float64) {
	o.steps++
	o.lr = float32(lr)
	for i := range o.ps {
		p := &o.ps[i]
		o.active[i] = p.grad() != nil
		if o.active[i] {
			o.first[i] = p.step == 0
			p.step++
		}
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

func (o *SGD) update(it item) {
	if !o.active[it.p] {
		return
	}
	p := &o.ps[it.p]
	w := p.t.Data()[it.lo:it.hi]
	g := p.t.Grad()[it.lo:it.hi]
	var wd float32
	if p.decay {
		wd = float32(o.cfg.WeightDecay)
	}
	var b []float32 // nil: no momentum
	if o.cfg.Momentum != 0 {
		b = o.slots[it.p][0].data[it.lo:it.hi]
	}
	// The backend's SGD kernel computes the update of the SGD doc comment
	// (tensor.SGDStep gives it per value).
	tensor.CurrentBackend().SGD(w, g, b, tensor.SGDStep{
		NegLR: -o.lr, WeightDecay: wd,
		Momentum: float32(o.cfg.Momentum), OneMinusDampening: float32(1 - o.cfg.Dampening),
		First: o.first[it.p], Nesterov: o.cfg.Nesterov,
	})
}

// ZeroGrad zeroes every parameter's gradient.
func (o *SGD) ZeroGrad() { zeroGrads(o.ps) }

// State returns a copy of the momentum buffers and step counts.
func (o *SGD) State() State { return saveState("sgd", o.steps, o.ps, o.slots) }

// LoadState replaces the momentum buffers and step counts with a copy of s.
func (o *SGD) LoadState(s State) error { return loadState("sgd", s, &o.steps, o.ps, o.slots) }
