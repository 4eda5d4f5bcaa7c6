package optim

import (
	"fmt"
	"math"

	"github.com/gococa/gococa/tensor"
)

// AdafactorConfig configures Adafactor. DefaultAdafactorConfig gives the
// CoCa paper's settings.
type AdafactorConfig struct {
	// Beta1 is the first-moment decay in [0, 1); 0 keeps no first moment
	// (and no exp_avg buffer). The CoCa paper uses 0.9.
	Beta1 float64
	// Beta2 is the second-moment decay in [0, 1), used with Adam's bias
	// correction folded into the decay (Shazeer & Stern 2018, section 7.1):
	// at a parameter's t-th update the running averages decay by
	// β̂ₜ = β2·(1 − β2^(t−1)) / (1 − β2^t), so β̂₁ = 0 and the average equals
	// Adam's bias-corrected second moment. The CoCa paper uses 0.999.
	// Set Beta2 to 0 to use DecayRate instead.
	Beta2 float64
	// DecayRate, when Beta2 is 0, selects the schedule of Hugging Face's
	// and fairseq's Adafactor: β̂ₜ = 1 − t^(−DecayRate) (their decay_rate
	// −0.8 is DecayRate 0.8). Must be 0 when Beta2 is set.
	DecayRate float64
	// Eps1 is added to the squared gradient (1e-30, as in Hugging Face).
	Eps1 float64
	// ClipThreshold is the update clipping threshold d: an update whose
	// root mean square exceeds d is scaled down to RMS d. The paper's 1.0.
	ClipThreshold float64
	// WeightDecay is the decoupled weight decay per unit learning rate:
	// p = p − lr·WeightDecay·p each update. The CoCa paper uses 0.01.
	WeightDecay float64
	// NoDecay picks the parameters exempt from weight decay; nil means
	// the package's NoDecay rule.
	NoDecay func(name string, shape []int) bool
}

// DefaultAdafactorConfig returns the CoCa paper's Adafactor: β1 0.9, β2
// 0.999, update clipping 1.0, decoupled weight decay 0.01, eps1 1e-30.
func DefaultAdafactorConfig() AdafactorConfig {
	return AdafactorConfig{Beta1: 0.9, Beta2: 0.999, Eps1: 1e-30, ClipThreshold: 1, WeightDecay: 0.01}
}

// Adafactor is the optimizer of Shazeer & Stern 2018 ("Adafactor: Adaptive
// Learning Rates with Sublinear Memory Cost") that CoCa was trained with,
// computed as the Hugging Face / fairseq implementation with
// scale_parameter=False, relative_step=False, warmup_init=False: the
// learning rate is the explicit lr passed to Step (from a Schedule), not
// scaled by the parameter's RMS and not a relative step size. The choices
// that differ from those implementations' defaults are the β2 schedule
// (AdafactorConfig.Beta2; their schedule is DecayRate) and the weight decay
// exemption rule (NoDecay).
//
// For a parameter p with gradient g at its t-th update, with β̂ₜ as
// AdafactorConfig.Beta2 describes:
//
//	G = g² + eps1
//	if p has ≥ 2 dimensions (factored; leading dimensions are a batch,
//	the last two are rows i and columns j):
//	    R = β̂ₜ·R + (1−β̂ₜ)·mean_j G        (exp_avg_sq_row, shape[:-1])
//	    C = β̂ₜ·C + (1−β̂ₜ)·mean_i G        (exp_avg_sq_col, shape[:-2]+shape[-1:])
//	    u = g / √(Rᵢ / mean_i R) / √Cⱼ
//	else (1-D and scalars):
//	    V = β̂ₜ·V + (1−β̂ₜ)·G                (exp_avg_sq)
//	    u = g / √V
//	u = lr · u / max(1, RMS(u)/d)       (update clipping)
//	m = β1·m + (1−β1)·u; u = m          (with a first moment; no bias correction)
//	p = p − lr·wd·p − u                 (decay only for the decay group)
//
// Choices, and why:
//   - Explicit learning rate (no relative step, no parameter scaling, so
//     Hugging Face's eps2 = 1e-3 plays no part): CoCa gives its LR
//     schedule explicitly (8e-4, linear warmup then linear decay).
//   - β2 0.999 with the bias correction folded into the decay rather than
//     Hugging Face's 1 − t^−0.8: the paper states β2 = 0.999, and the
//     bias-corrected form is the one Shazeer & Stern give for a fixed β2
//     (tensor2tensor's adafactor_decay_rate_adam). DecayRate keeps the
//     other form available.
//   - The first moment averages the clipped, lr-scaled update without bias
//     correction, as Hugging Face, fairseq and tensor2tensor do; with β1
//     0.9 the first updates are therefore 0.1, 0.19, ... of full size.
//   - Factoring for every parameter with ≥ 2 dimensions, whatever its
//     size, with the last two dimensions as rows and columns, as Hugging
//     Face and fairseq do: the patch-embedding kernel [W, 3, P, P] is
//     factored over (P, P) for each of its W·3 slices.
//   - Weight decay is decoupled (not added to the gradient, so it does not
//     pass through the second-moment normalisation) and multiplied by the
//     learning rate, applied to the value before the update as in Hugging
//     Face: with the paper's 0.01 and 8e-4 a parameter shrinks by 8e-6 of
//     itself per step at the peak rate.
//   - State, sums and the update are float32 as in PyTorch; the row and
//     column means and the update's RMS are summed in float64.
type Adafactor struct {
	cfg    AdafactorConfig
	ps     []param
	slots  [][]slot
	steps  int
	run    *runner
	lr     float64
	beta2t []float64 // per parameter, this step's β̂
	active []bool
	fac    []factored // per parameter; zero value when not factored
	first  int        // slot index of exp_avg, -1 without first moment
}

// factored is the layout and scratch of a factored parameter.
type factored struct {
	on      bool
	b, r, c int       // batch, rows, columns
	rfac    []float32 // (b, r) row factors
	cfac    []float32 // (b, c) column factors
	colSum  []float64 // (c) column sums of G
}

// NewAdafactor makes an Adafactor optimizer over params, which must be
// named uniquely. It returns an error naming the field for an invalid
// config.
func NewAdafactor(params []*tensor.Tensor, cfg AdafactorConfig) (*Adafactor, error) {
	const fn = "NewAdafactor"
	if err := checkRange(fn, "Beta1", cfg.Beta1, 0, 1, true); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "Beta2", cfg.Beta2, 0, 1, true); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "DecayRate", cfg.DecayRate, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if (cfg.Beta2 == 0) == (cfg.DecayRate == 0) {
		return nil, fmt.Errorf("optim: %s: set exactly one of Beta2 (%v) and DecayRate (%v)", fn, cfg.Beta2, cfg.DecayRate)
	}
	if err := checkRange(fn, "Eps1", cfg.Eps1, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if err := checkRange(fn, "ClipThreshold", cfg.ClipThreshold, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	if cfg.ClipThreshold == 0 {
		return nil, fmt.Errorf("optim: %s: ClipThreshold must be > 0", fn)
	}
	if err := checkRange(fn, "WeightDecay", cfg.WeightDecay, 0, math.MaxFloat64, false); err != nil {
		return nil, err
	}
	ps, err := newParams(fn, params, cfg.NoDecay)
	if err != nil {
		return nil, err
	}
	o := &Adafactor{cfg: cfg, ps: ps, slots: make([][]slot, len(ps)), beta2t: make([]float64, len(ps)),
		active: make([]bool, len(ps)), fac: make([]factored, len(ps)), first: -1}
	for i := range ps {
		shape := ps[i].shape
		var sl []slot
		if cfg.Beta1 != 0 {
			o.first = 0
			sl = append(sl, newSlot("exp_avg", shape...))
		}
		if len(shape) >= 2 {
			nd := len(shape)
			f := factored{on: true, b: 1, r: shape[nd-2], c: shape[nd-1]}
			for _, d := range shape[:nd-2] {
				f.b *= d
			}
			rowShape := append([]int(nil), shape[:nd-1]...)
			colShape := append(append([]int(nil), shape[:nd-2]...), shape[nd-1])
			sl = append(sl, newSlot("exp_avg_sq_row", rowShape...), newSlot("exp_avg_sq_col", colShape...))
			f.rfac = make([]float32, f.b*f.r)
			f.cfac = make([]float32, f.b*f.c)
			f.colSum = make([]float64, f.c)
			o.fac[i] = f
		} else {
			sl = append(sl, newSlot("exp_avg_sq", shape...))
		}
		o.slots[i] = sl
	}
	o.run = newPerParam(ps, o.update)
	return o, nil
}

// beta2At returns β̂ₜ for a parameter's t-th update (t ≥ 1).
func (o *Adafactor) beta2At(t int) float64 {
	if o.cfg.Beta2 != 0 {
		b := o.cfg.Beta2
		return b * (1 - math.Pow(b, float64(t-1))) / (1 - math.Pow(b, float64(t)))
	}
	return 1 - math.Pow(float64(t), -o.cfg.DecayRate)
}

// Step applies one Adafactor update with learning rate lr to every
// parameter that has a gradient.
func (o *Adafactor) Step(lr float64) {
	o.steps++
	o.lr = lr
	for i := range o.ps {
		p := &o.ps[i]
		o.active[i] = p.grad() != nil
		if o.active[i] {
			p.step++
			o.beta2t[i] = o.beta2At(p.step)
		}
	}
	if k, ok := deviceKernel[adafactorer](); ok {
		o.stepDevice(k)
		return
	}
	o.run.run()
}

// stepDevice runs each active parameter's update on the device.
func (o *Adafactor) stepDevice(k adafactorer) {
	for i := range o.ps {
		if !o.active[i] {
			continue
		}
		p := &o.ps[i]
		var m []float32
		beta1 := 0.0
		if o.first >= 0 {
			m, beta1 = o.slots[i][o.first].data, o.cfg.Beta1
		}
		wd := 0.0
		if p.decay {
			wd = -o.cfg.WeightDecay * o.lr
		}
		sl := o.slots[i]
		f := &o.fac[i]
		row, col := sl[len(sl)-1].data, []float32(nil) // exp_avg_sq
		b, r, c := 1, 1, p.n
		if f.on {
			row, col = sl[len(sl)-2].data, sl[len(sl)-1].data
			b, r, c = f.b, f.r, f.c
		}
		k.AdafactorStep(p.t.Data()[:p.n], p.t.Grad()[:p.n], m, row, col, b, r, c,
			o.beta2t[i], o.cfg.Eps1, o.cfg.ClipThreshold, o.lr, wd, beta1)
	}
}

// update runs the whole update of one parameter.
func (o *Adafactor) update(it item) {
	i := it.p
	if !o.active[i] {
		return
	}
	p := &o.ps[i]
	w := p.t.Data()
	g := p.t.Grad()
	bt := float32(o.beta2t[i])
	ombt := float32(1 - o.beta2t[i])
	eps1 := float32(o.cfg.Eps1)
	f := &o.fac[i]
	sq := o.slots[i][len(o.slots[i])-1].data // exp_avg_sq or exp_avg_sq_col
	var sumSq float64
	if f.on {
		row := o.slots[i][len(o.slots[i])-2].data
		sumSq = f.factor(g, row, sq, bt, ombt, eps1)
	} else {
		for j, gj := range g {
			v := sq[j]*bt + ombt*(gj*gj+eps1)
			sq[j] = v
			u := 1 / float32(math.Sqrt(float64(v))) * gj
			sumSq += float64(u) * float64(u)
		}
	}
	// update clipping: u / max(1, RMS(u)/d), then times lr
	rms := float32(math.Sqrt(sumSq) / math.Sqrt(float64(p.n)))
	den := float32(float64(rms) / o.cfg.ClipThreshold)
	if den < 1 || den != den {
		den = 1
	}
	// clipping and learning rate in one factor (PyTorch divides by den,
	// then multiplies by lr: the same up to one rounding)
	scale := float32(o.lr / float64(den))
	var wd float32
	if p.decay {
		wd = float32(-o.cfg.WeightDecay * o.lr)
	}
	var m []float32
	var b1, omb1 float32
	if o.first >= 0 {
		m = o.slots[i][o.first].data
		b1, omb1 = float32(o.cfg.Beta1), float32(1-o.cfg.Beta1)
	}
	if f.on {
		for b := 0; b < f.b; b++ {
			cf := f.cfac[b*f.c : (b+1)*f.c]
			for r := 0; r < f.r; r++ {
				off := (b*f.r + r) * f.c
				var mr []float32
				if m != nil {
					mr = m[off : off+f.c]
				}
				applyRow(w[off:off+f.c], g[off:off+f.c], cf, mr, f.rfac[b*f.r+r], scale, b1, omb1, wd)
			}
		}
		return
	}
	if m != nil {
		m = m[:len(g)]
	}
	w = w[:len(g)]
	sq = sq[:len(g)]
	for j, gj := range g {
		u := gj / float32(math.Sqrt(float64(sq[j]))) * scale
		if m != nil {
			u = m[j]*b1 + u*omb1
			m[j] = u
		}
		x := w[j]
		w[j] = x + wd*x - u
	}
}

// applyRow applies one row of a factored update: u = rf·c_j·g_j·scale,
// folded into the first moment m when m is not nil, then
// w = w + wd·w − (m or u). (wd is −lr·WeightDecay, or 0 for the no-decay
// group, where w + 0·w is w.)
func applyRow(w, g, c, m []float32, rf, scale, b1, omb1, wd float32) {
	w = w[:len(g)]
	c = c[:len(g)]
	if m == nil {
		for j, gj := range g {
			u := rf * c[j] * gj * scale
			x := w[j]
			w[j] = x + wd*x - u
		}
		return
	}
	m = m[:len(g)]
	for j, gj := range g {
		u := m[j]*b1 + rf*c[j]*gj*scale*omb1
		m[j] = u
		x := w[j]
		w[j] = x + wd*x - u
	}
}

// factor updates the row and column averages of one factored parameter,
// fills the row and column factors and returns Σu² over the unclipped
// update u = rfac·cfac·g.
func (f *factored) factor(g, row, col []float32, bt, ombt, eps1 float32) float64 {
	var sumSq float64
	for b := 0; b < f.b; b++ {
		clear(f.colSum)
		for r := 0; r < f.r; r++ {
			off := (b*f.r + r) * f.c
			rs := rowSquares(g[off:off+f.c], f.colSum, eps1)
			k := b*f.r + r
			row[k] = row[k]*bt + ombt*float32(rs/float64(f.c))
		}
		cr := col[b*f.c : (b+1)*f.c]
		cf := f.cfac[b*f.c : (b+1)*f.c]
		for j := range cr {
			cr[j] = cr[j]*bt + ombt*float32(f.colSum[j]/float64(f.r))
			cf[j] = 1 / float32(math.Sqrt(float64(cr[j])))
		}
		rr := row[b*f.r : (b+1)*f.r]
		var rm float64
		for _, v := range rr {
			rm += float64(v)
		}
		mean := float32(rm / float64(f.r))
		rf := f.rfac[b*f.r : (b+1)*f.r]
		for r, v := range rr {
			rf[r] = 1 / float32(math.Sqrt(float64(v/mean)))
		}
		// Σ_j (rf·cf_j·g_j)² = rf²·Σ_j (cf_j·g_j)²
		for r := 0; r < f.r; r++ {
			off := (b*f.r + r) * f.c
			x := float64(rf[r])
			sumSq += x * x * scaledSquares(cf, g[off:off+f.c])
		}
	}
	return sumSq
}

// rowSquares adds G = g²+eps1 of one row into colSum and returns the row's
// Σ G (float64, four partial sums added in a fixed order).
func rowSquares(g []float32, colSum []float64, eps1 float32) float64 {
	colSum = colSum[:len(g)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(g); j += 4 {
		a := float64(g[j]*g[j] + eps1)
		b := float64(g[j+1]*g[j+1] + eps1)
		c := float64(g[j+2]*g[j+2] + eps1)
		d := float64(g[j+3]*g[j+3] + eps1)
		s0 += a
		s1 += b
		s2 += c
		s3 += d
		colSum[j] += a
		colSum[j+1] += b
		colSum[j+2] += c
		colSum[j+3] += d
	}
	for ; j < len(g); j++ {
		a := float64(g[j]*g[j] + eps1)
		s0 += a
		colSum[j] += a
	}
	return (s0 + s1) + (s2 + s3)
}

// scaledSquares returns Σ (c_j·g_j)² in float64 (four partial sums).
func scaledSquares(c, g []float32) float64 {
	c = c[:len(g)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(g); j += 4 {
		a := float64(c[j] * g[j])
		b := float64(c[j+1] * g[j+1])
		d := float64(c[j+2] * g[j+2])
		e := float64(c[j+3] * g[j+3])
		s0 += a * a
		s1 += b * b
		s2 += d * d
		s3 += e * e
	}
	for ; j < len(g); j++ {
		a := float64(c[j] * g[j])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

// ZeroGrad zeroes every parameter's gradient.
func (o *Adafactor) ZeroGrad() { zeroGrads(o.ps) }

// State returns a copy of the running averages and step counts.
func (o *Adafactor) State() State { return saveState("adafactor", o.steps, o.ps, o.slots) }

// LoadState replaces the running averages and step counts with a copy of s.
func (o *Adafactor) LoadState(s State) error {
	return loadState("adafactor", s, &o.steps, o.ps, o.slots)
}
