package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

func randData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestSingleMismatch(t *testing.T) {
	shape := []int{10, 10, 10}
	want := randData(1000, 1)
	got := slices.Clone(want)
	if d := Compare("x", got, want, shape, TolActivation); !d.OK() || d.Bad != 0 || d.MaxAbs != 0 || d.Count != 1000 {
		t.Fatalf("identical data: %s", d)
	}
	got[537] += 2e-4
	d := Compare("x", got, want, shape, TolActivation)
	if d.OK() || d.Bad != 1 || len(d.First) != 1 {
		t.Fatalf("one element off by 2e-4 with atol 1e-4: %s", d)
	}
	m := d.First[0]
	if !slices.Equal(m.Index, []int{5, 3, 7}) || m.Flat != 537 || m.Want != float64(want[537]) || m.Got != float64(got[537]) {
		t.Errorf("mismatch %+v", m)
	}
	if math.Abs(d.MaxAbs-2e-4) > 1e-6 || d.Worst.Flat != 537 {
		t.Errorf("MaxAbs %g, worst %+v", d.MaxAbs, d.Worst)
	}
	if s := d.String(); !strings.HasPrefix(s, "FAIL x [10 10 10]") || !strings.Contains(s, "[5 3 7]: got") {
		t.Errorf("String() = %q", s)
	}
	// The same element within tolerance passes.
	got[537] = want[537] + 5e-5
	if d := Compare("x", got, want, shape, TolActivation); !d.OK() {
		t.Errorf("5e-5 off with atol 1e-4: %s", d)
	}
	// Exact comparison catches a one-ulp change.
	got[537] = math.Nextafter32(want[537], 10)
	if d := Compare("x", got, want, shape, TolExact); d.OK() || d.Bad != 1 {
		t.Errorf("one ulp with exact tolerance: %s", d)
	}
}

func TestManyMismatches(t *testing.T) {
	want := randData(100, 2)
	got := slices.Clone(want)
	for i := 10; i < 30; i++ {
		got[i] += 1
	}
	d := Compare("m", got, want, []int{100}, TolActivation)
	if d.Bad != 20 || len(d.First) != MaxFirst || d.First[0].Flat != 10 || d.First[4].Flat != 14 {
		t.Errorf("bad %d, first %v", d.Bad, d.First)
	}
	if !strings.Contains(d.String(), "... 15 more") {
		t.Errorf("String() = %q", d.String())
	}
}

func TestNaNAndInf(t *testing.T) {
	want := randData(64, 3)
	got := slices.Clone(want)
	got[9] = float32(math.NaN())
	for _, tol := range []Tolerance{TolActivation, TolGrad, TolLoss, {Atol: 1e9}} {
		d := Compare("n", got, want, []int{8, 8}, tol)
		if d.OK() || d.Bad != 1 || !math.IsInf(d.MaxAbs, 1) || !math.IsInf(d.RelNorm, 1) || !slices.Equal(d.First[0].Index, []int{1, 1}) {
			t.Errorf("NaN in got, tol %s: %s", tol, d)
		}
		if !strings.Contains(d.String(), "NaN") {
			t.Errorf("String() does not show the NaN: %q", d.String())
		}
	}
	// NaN in both: only with EqualNaN.
	want2 := slices.Clone(got)
	if d := Compare("n", got, want2, []int{64}, TolActivation); d.OK() {
		t.Error("NaN == NaN without EqualNaN")
	}
	if d := Compare("n", got, want2, []int{64}, Tolerance{Atol: 1e-4, EqualNaN: true}); !d.OK() {
		t.Errorf("NaN == NaN with EqualNaN: %s", d)
	}
	// Infinities match themselves, not the opposite sign or a finite value.
	inf := float32(math.Inf(1))
	if d := Compare("i", []float32{inf, 1}, []float32{inf, 1}, []int{2}, TolExact); !d.OK() {
		t.Errorf("Inf vs Inf: %s", d)
	}
	if d := Compare("i", []float32{-inf, 1}, []float32{inf, 1}, []int{2}, TolActivation); d.OK() {
		t.Error("-Inf vs +Inf passed")
	}
	if d := Compare("i", []float32{inf, 1}, []float32{3e38, 1}, []int{2}, Tolerance{Atol: 1e30}); d.OK() {
		t.Error("Inf vs finite passed")
	}
}

func TestShapeMismatch(t *testing.T) {
	a := randData(6, 4)
	if d := CompareShapes("s", a, []int{2, 3}, a, []int{3, 2}, TolActivation); d.OK() || !strings.Contains(d.Err, "shape [2 3], want [3 2]") {
		t.Errorf("transposed shape: %s", d)
	}
	if d := CompareShapes("s", a, []int{2, 3}, a, []int{2, 3}, TolActivation); !d.OK() {
		t.Errorf("same shape: %s", d)
	}
	if d := Compare("s", a[:5], a, []int{2, 3}, TolActivation); d.OK() || !strings.Contains(d.Err, "got 5 elements, want 6") {
		t.Errorf("short got: %s", d)
	}
	if d := Compare("s", a, a, []int{2, 4}, TolActivation); d.OK() || !strings.Contains(d.Err, "shape [2 4] needs 8") {
		t.Errorf("shape vs data: %s", d)
	}
	if d := Compare("s", a, a, []int{6}, TolActivation.WithMask([]bool{true})); d.OK() || !strings.Contains(d.Err, "mask has 1") {
		t.Errorf("mask length: %s", d)
	}
	if s := CompareShapes("s", a, []int{6}, a, []int{2, 3}, TolExact).String(); !strings.HasPrefix(s, "FAIL s [2 3]: shape [6], want [2 3]") {
		t.Errorf("String() = %q", s)
	}
}

func TestMask(t *testing.T) {
	want := []float32{1, 2, 3, 4, 5, 6}
	got := []float32{1, 2, 99, 4, 5, 6}
	mask := MaskNonZero([]int64{7, 7, 0, 7, 7, 7})
	d := Compare("l", got, want, []int{2, 3}, TolActivation.WithMask(mask))
	if !d.OK() || d.Count != 5 {
		t.Errorf("masked-out mismatch: %s", d)
	}
	mask[2] = true
	if d := Compare("l", got, want, []int{2, 3}, TolActivation.WithMask(mask)); d.OK() {
		t.Error("unmasked mismatch passed")
	}
	if m := MaskRepeat([]bool{true, false}, 3); !slices.Equal(m, []bool{true, true, true, false, false, false}) {
		t.Errorf("MaskRepeat = %v", m)
	}
}

func TestRelNormAndRtol(t *testing.T) {
	// ‖(0, 0.5)‖ / ‖(3, 4)‖ = 0.5 / 5 = 0.1.
	want := []float32{3, 4}
	got := []float32{3, 4.5}
	d := Compare("g", got, want, []int{2}, Tolerance{RelNorm: 0.11})
	if !d.OK() || math.Abs(d.RelNorm-0.1) > 1e-12 || d.Bad != 0 {
		t.Errorf("relnorm 0.1 under 0.11: %s", d)
	}
	if d := Compare("g", got, want, []int{2}, Tolerance{RelNorm: 0.09}); d.OK() {
		t.Errorf("relnorm 0.1 under 0.09 passed: %s", d)
	}
	// Both bounds: the element-wise one fails here.
	if d := Compare("g", got, want, []int{2}, Tolerance{RelNorm: 0.11, Atol: 0.1}); d.OK() || d.Bad != 1 {
		t.Errorf("relnorm ok, atol exceeded: %s", d)
	}
	// Rtol: |d| ≤ rtol·|want|. 0.5/4 = 0.125.
	if d := Compare("g", got, want, []int{2}, Tolerance{Rtol: 0.13}); !d.OK() || math.Abs(d.MaxRel-0.125) > 1e-12 {
		t.Errorf("rtol 0.13: %s", d)
	}
	if d := Compare("g", got, want, []int{2}, Tolerance{Rtol: 0.12}); d.OK() {
		t.Errorf("rtol 0.12 passed: %s", d)
	}
	// A zero reference: relnorm is infinite unless got is zero too.
	if d := Compare("z", []float32{0, 1e-9}, []float32{0, 0}, []int{2}, TolGrad); d.OK() || !math.IsInf(d.RelNorm, 1) {
		t.Errorf("zero reference: %s", d)
	}
	if d := Compare("z", []float32{0, 0}, []float32{0, 0}, []int{2}, TolGrad); !d.OK() {
		t.Errorf("zero vs zero: %s", d)
	}
	// Float64 and integer variants.
	if d := Compare64("f", []float64{1, 2}, []float64{1, 2 + 1e-12}, []int{2}, Tolerance{Atol: 1e-11}); !d.OK() {
		t.Errorf("Compare64: %s", d)
	}
	if d := CompareInt64("tok", []int64{1, 1 << 60}, []int64{1, 1<<60 + 1}, []int{2}); d.OK() {
		t.Errorf("CompareInt64 missed a difference above 2^53: %s", d)
	}
	if d := CompareInt64("tok", []int64{5, 6}, []int64{5, 6}, []int{1, 2}); !d.OK() {
		t.Errorf("CompareInt64 equal: %s", d)
	}
}

type fakeTB struct{ logs, errs []string }

func (f *fakeTB) Helper() {}
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestReport(t *testing.T) {
	r := NewReport("fixture x", "make_it.sh")
	if r.OK() {
		t.Error("empty report is OK")
	}
	a := randData(12, 5)
	r.Add(Compare("output.a", a, a, []int{3, 4}, TolActivation))
	b := slices.Clone(a)
	b[11] += 1
	r.Add(Compare("output.b", b, a, []int{3, 4}, TolActivation))
	r.Add(CompareShapes("output.c", a, []int{12}, a, []int{3, 4}, TolActivation))
	if r.OK() || len(r.Failed()) != 2 {
		t.Fatalf("OK %v, failed %d", r.OK(), len(r.Failed()))
	}
	s := r.String()
	for _, want := range []string{"output.a", "[2 3]: got", "shape [12], want [3 4]",
		"FAIL fixture x: 2 of 3 tensors out of tolerance: output.b, output.c; reference written by: make_it.sh"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	var tb fakeTB
	r.Check(&tb)
	if len(tb.errs) != 3 || len(tb.logs) != 1 {
		t.Errorf("Check: %d errors, %d logs", len(tb.errs), len(tb.logs))
	}
	ok := NewReport("fine", "")
	ok.Add(Compare("a", a, a, []int{12}, TolExact))
	tb = fakeTB{}
	ok.Check(&tb)
	if !ok.OK() || len(tb.errs) != 0 || !strings.HasPrefix(ok.Summary(), "ok fine: 1 tensors within tolerance") {
		t.Errorf("passing report: %v %q", tb.errs, ok.Summary())
	}
}

// The open_clip tiny fixture: its own outputs are consistent under the
// comparator (features are the normalized unnormalized features, logits of
// pad labels are excluded by the mask).
func TestTinyFixture(t *testing.T) {
	dir := filepath.Join("testdata", "tiny")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("fixture %s not present", dir)
	}
	f, err := LoadFixture(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cfg struct {
		EmbedDim int `json:"embed_dim"`
	}
	if err := json.Unmarshal(f.ConfigJSON, &cfg); err != nil || cfg.EmbedDim != 32 {
		t.Fatalf("config: %v %+v", err, cfg)
	}
	if f.Weights.Len() != 129 {
		t.Errorf("weights: %d tensors", f.Weights.Len())
	}
	if g := f.Names("grad."); len(g) != f.Weights.Len() {
		t.Errorf("%d grad.* tensors, %d weights", len(g), f.Weights.Len())
	}
	r := NewReport(dir, RerunFixtures)
	for _, tower := range []string{"image", "text"} {
		u, shape, err := f.Float32("output." + tower + "_features_unnormalized")
		if err != nil {
			t.Fatal(err)
		}
		rows, d := shape[0], shape[1]
		norm := make([]float32, len(u))
		for i := range rows {
			var s float64
			for _, v := range u[i*d : (i+1)*d] {
				s += float64(v) * float64(v)
			}
			s = math.Sqrt(s)
			for j := range d {
				norm[i*d+j] = float32(float64(u[i*d+j]) / s)
			}
		}
		f.Check(r, "output."+tower+"_features", norm, shape, Tolerance{Atol: 1e-6})
	}
	logits, lshape, err := f.Float32("output.logits")
	if err != nil {
		t.Fatal(err)
	}
	labels, _, err := f.Int64("output.labels")
	if err != nil {
		t.Fatal(err)
	}
	mask := MaskRepeat(MaskNonZero(labels), lshape[2])
	// Corrupt the logits at the first pad label: the masked comparison must
	// not see it, the unmasked one must.
	pad := slices.Index(mask, false)
	if pad < 0 {
		t.Fatal("tiny fixture has no pad labels")
	}
	bad := slices.Clone(logits)
	bad[pad] += 1
	f.Check(r, "output.logits", bad, lshape, TolActivation.WithMask(mask))
	if d := f.Check(nil, "output.logits", bad, lshape, TolActivation); d.OK() || d.Bad != 1 {
		t.Errorf("unmasked logits: %s", d)
	}
	if d := f.Check(nil, "output.nope", logits, lshape, TolActivation); d.OK() || !strings.Contains(d.Err, `no tensor "output.nope"`) {
		t.Errorf("missing reference: %s", d)
	}
	r.Check(t)
}

func TestLoadFixtureErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFixture(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{nope"), 0o644)
	if _, err := LoadFixture(dir); err == nil || !strings.Contains(err.Error(), "config.json: invalid JSON") {
		t.Errorf("bad config: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"embed_dim": 8}`), 0o644)
	if _, err := LoadFixture(dir); err == nil || !strings.Contains(err.Error(), "weights.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	w := []safetensors.Tensor{safetensors.F32("logit_scale", []int{}, []float32{2.5})}
	if err := safetensors.WriteFile(filepath.Join(dir, "weights.safetensors"), w, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "io.safetensors"), []byte("garbage!"), 0o644)
	if _, err := LoadFixture(dir); err == nil || !strings.Contains(err.Error(), "io.safetensors") {
		t.Errorf("bad io: %v", err)
	}
	io := []safetensors.Tensor{
		safetensors.F32("loss.total", []int{1}, []float32{1.25}),
		safetensors.I64("input.text", []int{1, 3}, []int64{1, 5, 0}),
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "io.safetensors"), io, nil); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFixture(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, shape, err := f.Int64("input.text"); err != nil || !slices.Equal(v, []int64{1, 5, 0}) || !slices.Equal(shape, []int{1, 3}) {
		t.Errorf("Int64: %v %v %v", v, shape, err)
	}
	if d := f.Check(nil, "loss.total", []float32{1.25001}, []int{1}, TolLoss); !d.OK() {
		t.Errorf("loss within 1e-5 relative: %s", d)
	}
	if d := f.Check(nil, "loss.total", []float32{1.2501}, []int{1}, TolLoss); d.OK() {
		t.Errorf("loss 8e-5 relative off passed: %s", d)
	}
}
