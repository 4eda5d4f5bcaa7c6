package golden

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Tolerance says when a computed tensor matches its reference.
//
// Element-wise: every compared element must satisfy
// |got − want| ≤ Atol + Rtol·|want|. This check applies when Atol or Rtol is
// set, and also when nothing is set (exact equality).
//
// Relative norm: ‖got − want‖₂ / ‖want‖₂ ≤ RelNorm over the compared
// elements. This check applies when RelNorm is set; with RelNorm alone,
// individual elements are not held to a bound, only non-finite mismatches
// count as bad.
//
// Mask, if not nil, selects the elements to compare (same length as the data):
// compare logits only where labels ≠ 0, for instance (see MaskNonZero).
// NaN matches NaN only with EqualNaN; ±Inf matches the same infinity.
type Tolerance struct {
	Atol, Rtol float64
	RelNorm    float64
	Mask       []bool
	EqualNaN   bool
}

// The tolerances the fixtures' README holds ports to.
var (
	// Activations: features, image_embs, text_tokens, logits.
	TolActivation = Tolerance{Atol: 1e-4}
	// Losses and logit_scale: relative difference.
	TolLoss = Tolerance{Rtol: 1e-5}
	// Gradients: relative norm of the difference.
	TolGrad = Tolerance{RelNorm: 1e-4}
	// Exact equality (token ids, labels).
	TolExact = Tolerance{}
)

// WithMask returns t comparing only where mask is true.
func (t Tolerance) WithMask(mask []bool) Tolerance {
	t.Mask = mask
	return t
}

func (t Tolerance) elementwise() bool { return t.Atol > 0 || t.Rtol > 0 || t.RelNorm <= 0 }

func (t Tolerance) String() string {
	var parts []string
	if t.Atol > 0 {
		parts = append(parts, fmt.Sprintf("atol=%.0e", t.Atol))
	}
	if t.Rtol > 0 {
		parts = append(parts, fmt.Sprintf("rtol=%.0e", t.Rtol))
	}
	if t.RelNorm > 0 {
		parts = append(parts, fmt.Sprintf("relnorm<=%.0e", t.RelNorm))
	}
	if len(parts) == 0 {
		parts = append(parts, "exact")
	}
	if t.Mask != nil {
		parts = append(parts, "masked")
	}
	return strings.Join(parts, " ")
}

// MaskNonZero returns a mask that is true where ids[i] ≠ 0 (not padding).
func MaskNonZero(ids []int64) []bool {
	m := make([]bool, len(ids))
	for i, v := range ids {
		m[i] = v != 0
	}
	return m
}

// MaskRepeat repeats each mask element n times: a mask over [B, L] positions
// becomes one over [B, L, n] values (text_tokens compared where text ≠ 0).
func MaskRepeat(mask []bool, n int) []bool {
	out := make([]bool, 0, len(mask)*n)
	for _, v := range mask {
		for range n {
			out = append(out, v)
		}
	}
	return out
}

// Mismatch is one element out of tolerance.
type Mismatch struct {
	Index     []int // multi-dimensional index into Shape
	Flat      int   // row-major flat index
	Got, Want float64
	AbsDiff   float64
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%v: got %.8g want %.8g |diff| %.3g", m.Index, m.Got, m.Want, m.AbsDiff)
}

// MaxFirst is how many mismatches a Diff keeps.
const MaxFirst = 5

// Diff is the result of comparing one tensor with its reference.
type Diff struct {
	Name  string
	Shape []int
	// MaxAbs is max |got − want|; MaxRel max |got − want|/|want| over elements
	// with want ≠ 0 (+Inf where want = 0 and got differs); RelNorm
	// ‖got − want‖₂/‖want‖₂. Non-finite mismatches make all three +Inf.
	MaxAbs, MaxRel, RelNorm float64
	Count                   int // elements compared (after the mask)
	Bad                     int // elements out of tolerance
	First                   []Mismatch
	// Worst is the element with the largest |got − want| (Flat −1 if none).
	Worst Mismatch
	Tol   Tolerance
	// Err describes a structural problem (shape or length mismatch); such a
	// Diff is never OK.
	Err string
}

// OK reports whether the tensor is within tolerance.
func (d Diff) OK() bool {
	if d.Err != "" || d.Bad > 0 {
		return false
	}
	if d.Tol.RelNorm > 0 && !(d.RelNorm <= d.Tol.RelNorm) {
		return false
	}
	return true
}

func (d Diff) status() string {
	if d.OK() {
		return "ok"
	}
	return "FAIL"
}

// String prints the comparison and the first mismatches, one per line.
func (d Diff) String() string {
	var sb strings.Builder
	if d.Err != "" {
		fmt.Fprintf(&sb, "FAIL %s %v: %s", d.Name, d.Shape, d.Err)
		return sb.String()
	}
	fmt.Fprintf(&sb, "%s %s %v: n=%d bad=%d max|diff|=%.3g maxrel=%.3g relnorm=%.3g (%s)",
		d.status(), d.Name, d.Shape, d.Count, d.Bad, d.MaxAbs, d.MaxRel, d.RelNorm, d.Tol)
	for _, m := range d.First {
		fmt.Fprintf(&sb, "\n    %s", m)
	}
	if d.Bad > len(d.First) {
		fmt.Fprintf(&sb, "\n    ... %d more", d.Bad-len(d.First))
	}
	if !d.OK() && d.Worst.Flat >= 0 && (len(d.First) == 0 || d.Worst.Flat != d.First[0].Flat) {
		fmt.Fprintf(&sb, "\n    worst %s", d.Worst)
	}
	return sb.String()
}

// Unravel converts a row-major flat index into a multi-dimensional one.
func Unravel(flat int, shape []int) []int {
	idx := make([]int, len(shape))
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] > 0 {
			idx[i] = flat % shape[i]
			flat /= shape[i]
		}
	}
	return idx
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Compare compares got with want, both of the given row-major shape.
func Compare(name string, got, want []float32, shape []int, tol Tolerance) Diff {
	return compare(name, len(got), len(want), shape, tol, func(i int) (float64, float64) {
		return float64(got[i]), float64(want[i])
	})
}

// Compare64 is Compare for float64 data.
func Compare64(name string, got, want []float64, shape []int, tol Tolerance) Diff {
	return compare(name, len(got), len(want), shape, tol, func(i int) (float64, float64) {
		return got[i], want[i]
	})
}

// CompareShapes is Compare for a result whose shape may itself be wrong: a
// shape mismatch is reported (with no element comparison).
func CompareShapes(name string, got []float32, gotShape []int, want []float32, wantShape []int, tol Tolerance) Diff {
	if !slices.Equal(gotShape, wantShape) {
		return Diff{Name: name, Shape: slices.Clone(wantShape), Tol: tol, Worst: Mismatch{Flat: -1},
			Err: fmt.Sprintf("shape %v, want %v", gotShape, wantShape)}
	}
	return Compare(name, got, want, wantShape, tol)
}

// CompareInt64 compares integer tensors (token ids, labels) exactly.
func CompareInt64(name string, got, want []int64, shape []int) Diff {
	d := compare(name, len(got), len(want), shape, TolExact, func(i int) (float64, float64) {
		return float64(got[i]), float64(want[i])
	})
	// float64 conversion could merge ids above 2^53: recount exactly.
	if d.Err == "" {
		bad := 0
		for i := range want {
			if got[i] != want[i] {
				bad++
			}
		}
		if bad > d.Bad {
			d.Bad = bad
		}
	}
	return d
}

func compare(name string, ngot, nwant int, shape []int, tol Tolerance, at func(int) (float64, float64)) Diff {
	d := Diff{Name: name, Shape: slices.Clone(shape), Tol: tol, Worst: Mismatch{Flat: -1}}
	switch {
	case numel(shape) != nwant:
		d.Err = fmt.Sprintf("reference has %d elements, shape %v needs %d", nwant, shape, numel(shape))
		return d
	case ngot != nwant:
		d.Err = fmt.Sprintf("got %d elements, want %d", ngot, nwant)
		return d
	case tol.Mask != nil && len(tol.Mask) != nwant:
		d.Err = fmt.Sprintf("mask has %d elements, data %d", len(tol.Mask), nwant)
		return d
	}
	elementwise := tol.elementwise()
	var sumD2, sumW2 float64
	nonFinite := false
	for i := range nwant {
		if tol.Mask != nil && !tol.Mask[i] {
			continue
		}
		d.Count++
		g, w := at(i)
		var diff float64
		bad := false
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) && math.IsNaN(w) && tol.EqualNaN {
				continue
			}
			diff, bad, nonFinite = math.Inf(1), true, true
		case math.IsInf(g, 0) || math.IsInf(w, 0):
			if g == w {
				continue
			}
			diff, bad, nonFinite = math.Inf(1), true, true
		default:
			diff = math.Abs(g - w)
			bad = elementwise && !(diff <= tol.Atol+tol.Rtol*math.Abs(w))
			sumD2 += diff * diff
			sumW2 += w * w
		}
		if diff > d.MaxAbs {
			d.MaxAbs = diff
			d.Worst = Mismatch{Flat: i, Got: g, Want: w, AbsDiff: diff}
		}
		if diff > 0 {
			rel := math.Inf(1)
			if w != 0 && !math.IsInf(w, 0) {
				rel = diff / math.Abs(w)
			}
			d.MaxRel = max(d.MaxRel, rel)
		}
		if bad {
			d.Bad++
			if len(d.First) < MaxFirst {
				d.First = append(d.First, Mismatch{Index: Unravel(i, shape), Flat: i, Got: g, Want: w, AbsDiff: diff})
			}
		}
	}
	if d.Worst.Flat >= 0 {
		d.Worst.Index = Unravel(d.Worst.Flat, shape)
	}
	switch {
	case nonFinite:
		d.RelNorm = math.Inf(1)
	case sumW2 > 0:
		d.RelNorm = math.Sqrt(sumD2) / math.Sqrt(sumW2)
	case sumD2 > 0:
		d.RelNorm = math.Inf(1)
	}
	return d
}
