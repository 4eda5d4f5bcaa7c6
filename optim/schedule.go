package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each optimizer step. Steps count from
// 0 (the first Step call uses LR(0)); a negative step is treated as 0.
type Schedule interface {
	LR(step int) float64
}

// warmupLR is open_clip's _warmup_lr: base·(step+1)/warmup, so the first
// step already has a non-zero rate and step warmup−1 reaches base.
func warmupLR(base float64, warmup, step int) float64 {
	return base * float64(step+1) / float64(warmup)
}

func checkSchedule(fn string, base, floor float64, floorName string, warmup, total int, hasTotal bool) error {
	if err := checkRange(fn, "base", base, 0, math.MaxFloat64, false); err != nil {
		return err
	}
	if err := checkRange(fn, floorName, floor, 0, math.MaxFloat64, false); err != nil {
		return err
	}
	if warmup < 0 {
		return fmt.Errorf("optim: %s: warmup = %d is negative", fn, warmup)
	}
	if hasTotal && total < warmup {
		return fmt.Errorf("optim: %s: total = %d steps is less than warmup = %d", fn, total, warmup)
	}
	return nil
}

// Constant is a constant learning rate after an optional linear warmup
// (open_clip's const_lr):
//
//	LR(s) = Base·(s+1)/Warmup   for s < Warmup
//	LR(s) = Base                otherwise
type Constant struct {
	Base   float64
	Warmup int
}

// NewConstant returns a constant schedule with warmup steps of linear warmup
// (0 for none).
func NewConstant(base float64, warmup int) (*Constant, error) {
	if err := checkSchedule("NewConstant", base, 0, "", warmup, 0, false); err != nil {
		return nil, err
	}
	return &Constant{Base: base, Warmup: warmup}, nil
}

// LR returns the learning rate of step s.
func (c *Constant) LR(s int) float64 {
	s = max(s, 0)
	if s < c.Warmup {
		return warmupLR(c.Base, c.Warmup, s)
	}
	return c.Base
}

// WarmupCosine is linear warmup followed by a half-cosine decay from Base to
// Min at step Total (open_clip's cosine_lr when Min is 0). With e = s −
// Warmup and es = Total − Warmup:
//
//	LR(s) = Base·(s+1)/Warmup                           for s < Warmup
//	LR(s) = Min + 0.5·(1 + cos(π·e/es))·(Base − Min)    for Warmup ≤ s < Total
//	LR(s) = Min                                         for s ≥ Total
//
// With Min 0 the middle line is computed as open_clip writes it,
// 0.5·(1+cos(π·e/es))·Base. open_clip keeps evaluating the cosine past
// Total (the rate rises again); this schedule stays at Min.
type WarmupCosine struct {
	Base, Min     float64
	Warmup, Total int
}

// NewWarmupCosine returns a warmup + cosine schedule over total steps.
func NewWarmupCosine(base, min float64, warmup, total int) (*WarmupCosine, error) {
	if err := checkSchedule("NewWarmupCosine", base, min, "min", warmup, total, true); err != nil {
		return nil, err
	}
	return &WarmupCosine{Base: base, Min: min, Warmup: warmup, Total: total}, nil
}

// LR returns the learning rate of step s.
func (c *WarmupCosine) LR(s int) float64 {
	s = max(s, 0)
	if s < c.Warmup {
		return warmupLR(c.Base, c.Warmup, s)
	}
	if s >= c.Total {
		return c.Min
	}
	e, es := float64(s-c.Warmup), float64(c.Total-c.Warmup)
	f := 0.5 * (1 + math.Cos(math.Pi*e/es))
	if c.Min == 0 {
		return f * c.Base
	}
	return c.Min + f*(c.Base-c.Min)
}

// WarmupLinear is linear warmup followed by linear decay from Base to End at
// step Total (the CoCa paper's schedule with End 0; open_clip's
// const_lr_cooldown with power 1 when the cooldown spans every step after
// the warmup). With e = s − Warmup and es = Total − Warmup:
//
//	LR(s) = Base·(s+1)/Warmup                 for s < Warmup
//	LR(s) = (1 − e/es)·(Base − End) + End     for Warmup ≤ s < Total
//	LR(s) = End                               for s ≥ Total
type WarmupLinear struct {
	Base, End     float64
	Warmup, Total int
}

// NewWarmupLinear returns a warmup + linear decay schedule over total steps.
func NewWarmupLinear(base, end float64, warmup, total int) (*WarmupLinear, error) {
	if err := checkSchedule("NewWarmupLinear", base, end, "end", warmup, total, true); err != nil {
		return nil, err
	}
	return &WarmupLinear{Base: base, End: end, Warmup: warmup, Total: total}, nil
}

// LR returns the learning rate of step s.
func (c *WarmupLinear) LR(s int) float64 {
	s = max(s, 0)
	if s < c.Warmup {
		return warmupLR(c.Base, c.Warmup, s)
	}
	if s >= c.Total {
		return c.End
	}
	e, es := float64(s-c.Warmup), float64(c.Total-c.Warmup)
	return (1-e/es)*(c.Base-c.End) + c.End
}
