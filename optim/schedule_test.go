package optim

import (
	"math"
	"testing"
)

// TestSchedulesAgainstReference compares every step's rate with the float64
// values the fixture script computed from open_clip's scheduler formulas.
func TestSchedulesAgainstReference(t *testing.T) {
	f := openRef(t)
	must := func(s Schedule, err error) Schedule {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		key   string
		base  float64
		sched Schedule
	}{
		{"sched.cosine", 3e-4, must(NewWarmupCosine(3e-4, 0, 10, 120))},
		{"sched.cosine_nowarmup", 1, must(NewWarmupCosine(1.0, 0, 0, 50))},
		{"sched.cosine_min", 1e-3, must(NewWarmupCosine(1e-3, 1e-5, 7, 100))},
		{"sched.linear", 8e-4, must(NewWarmupLinear(8e-4, 0, 20, 100))},
		{"sched.linear_end", 5e-4, must(NewWarmupLinear(5e-4, 1e-5, 0, 64))},
		{"sched.const", 1e-3, must(NewConstant(1e-3, 13))},
	}
	for _, c := range cases {
		want := mustFloat64(t, f, c.key)
		for s, w := range want {
			got := c.sched.LR(s)
			// The formulas are evaluated in the same order in float64, but
			// Go's math.Cos and libm's cos may differ in the last bit of a
			// value of magnitude ≤ 1 (≤ 2.2e-16), which the schedule scales
			// by base/2: allow a few such roundings of base.
			if math.Abs(got-w) > 1e-15*c.base {
				t.Errorf("%s: LR(%d) = %.17g, reference %.17g", c.key, s, got, w)
			}
		}
	}
}

// TestScheduleFormulas checks chosen steps against the documented formulas
// worked out by hand.
func TestScheduleFormulas(t *testing.T) {
	const base = 1e-3
	cos, err := NewWarmupCosine(base, 0, 4, 14) // es = 10
	if err != nil {
		t.Fatal(err)
	}
	lin, err := NewWarmupLinear(base, 0, 4, 14)
	if err != nil {
		t.Fatal(err)
	}
	con, err := NewConstant(base, 4)
	if err != nil {
		t.Fatal(err)
	}
	cosMin, err := NewWarmupCosine(base, 1e-4, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	noWarm, err := NewConstant(base, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		s    Schedule
		step int
		want float64
	}{
		// warmup: base·(step+1)/warmup
		{"cosine warmup 0", cos, 0, base / 4},
		{"cosine warmup 1", cos, 1, base / 2},
		{"cosine warmup 3", cos, 3, base},
		{"cosine start", cos, 4, base},
		{"cosine quarter", cos, 4 + 5, base / 2}, // cos(π/2) = 0
		{"cosine e/es = 1/5", cos, 6, 0.5 * (1 + math.Cos(math.Pi/5)) * base},
		{"cosine end", cos, 14, 0},                                           // at and after Total: Min
		{"cosine after", cos, 1000, 0},                                       //
		{"cosine negative", cos, -5, base / 4},                               // treated as 0
		{"cosine min mid", cosMin, 5, 1e-4 + 0.5*(base-1e-4)},                // cos(π/2) = 0
		{"cosine min end", cosMin, 10, 1e-4},                                 //
		{"cosine min start", cosMin, 0, base},                                // no warmup
		{"linear warmup 2", lin, 2, 3 * base / 4},                            //
		{"linear start", lin, 4, base},                                       //
		{"linear mid", lin, 9, base / 2},                                     // (1 − 5/10)
		{"linear 8/10", lin, 12, base * 0.2},                                 //
		{"linear end", lin, 14, 0},                                           //
		{"const warmup", con, 2, 3 * base / 4},                               //
		{"const after", con, 4, base},                                        //
		{"const far", con, 1 << 30, base},                                    //
		{"const no warmup", noWarm, 0, base},                                 //
		{"cosine step 7", cos, 7, 0.5 * (1 + math.Cos(math.Pi*3/10)) * base}, // e = 3
	}
	for _, c := range cases {
		got := c.s.LR(c.step)
		if math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s: LR(%d) = %.17g, want %.17g", c.name, c.step, got, c.want)
		}
	}
	// monotone decay after the warmup
	prev := math.Inf(1)
	for s := 4; s <= 14; s++ {
		v := cos.LR(s)
		if v > prev {
			t.Errorf("cosine LR(%d) = %v rises above LR(%d) = %v", s, v, s-1, prev)
		}
		prev = v
	}
}

func TestScheduleErrors(t *testing.T) {
	if _, err := NewWarmupCosine(1e-3, 0, 10, 5); err == nil {
		t.Error("NewWarmupCosine: total < warmup accepted")
	}
	if _, err := NewWarmupCosine(math.NaN(), 0, 0, 5); err == nil {
		t.Error("NewWarmupCosine: NaN base accepted")
	}
	if _, err := NewWarmupLinear(1e-3, -1, 0, 5); err == nil {
		t.Error("NewWarmupLinear: negative end accepted")
	}
	if _, err := NewConstant(1e-3, -2); err == nil {
		t.Error("NewConstant: negative warmup accepted")
	}
	if _, err := NewConstant(-1, 0); err == nil {
		t.Error("NewConstant: negative base accepted")
	}
	// total == warmup: the warmup, then Min at once
	c, err := NewWarmupCosine(1, 0.5, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LR(2); got != 1 {
		t.Errorf("LR(2) = %v, want 1", got)
	}
	if got := c.LR(3); got != 0.5 {
		t.Errorf("LR(3) = %v, want 0.5", got)
	}
}
