package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestRing: the ring costs, by hand.
func TestRing(t *testing.T) {
	n := Net{Gbit: 1, Latency: 50 * time.Microsecond}
	bw := 125e6 * 1448 / 1514
	if got, want := n.allReduce(4e6, 2), 4e6/bw+2*50e-6; !near(got, want) {
		t.Errorf("all-reduce of 4 MB over 2: %v, want %v", got, want)
	}
	if got, want := n.allReduce(4e6, 64), 2*63.0/64*4e6/bw+2*63*50e-6; !near(got, want) {
		t.Errorf("all-reduce of 4 MB over 64: %v, want %v", got, want)
	}
	if got, want := n.allGather(1e3, 8), 7*1e3/bw+7*50e-6; !near(got, want) {
		t.Errorf("all-gather of 1 kB from 8: %v, want %v", got, want)
	}
	if n.allReduce(1e9, 1) != 0 || n.allGather(1e9, 1) != 0 {
		t.Error("one rank communicates")
	}
}

// model is a made-up measurement: 1 s forward, 2 s backward, 1 s optimizer,
// 4 parameters of 1 Mi values completed at 1/4, 2/4, 3/4 and the end of
// the backward pass.
func model() Measured {
	m := Measured{Config: "toy", Params: 4 << 20, EmbedDim: 8, Batch: 4, Forward: 1, Backward: 2, Step: 1,
		Gather: map[int]float64{1: 0.01, 2: 0.04}, Local: map[int]float64{1: 0.01, 2: 0.02}}
	for i := 1; i <= 4; i++ {
		m.Ready = append(m.Ready, ReadyParam{Values: 1 << 20, At: float64(i) / 4})
	}
	return m
}

// TestPredictOverlap: with 4 MiB buckets (one parameter each) on a link
// where each bucket takes 0.8 s, buckets 1-3 overlap the backward pass and
// what is exposed follows from the queue: bucket k starts at max(ready,
// previous end); with one all-reduce after the backward pass all of it is
// exposed; on a fast link nothing is.
func TestPredictOverlap(t *testing.T) {
	m := model()
	// 4 MiB per bucket takes 0.8 s over 2 ranks: bytes/bw = 0.8.
	bw := 4.0 * (1 << 20) / 0.8
	net := Net{Gbit: bw * 8 / 1e9 / payload}
	p := m.predict(2, net, 0, 4, false)
	// ready at 0.5, 1, 1.5, 2 s; ends 1.3, 2.1, 2.9, 3.7: 1.7 s past 2 s.
	if !near(p.Exposed, 1.7) || !near(p.AllReduce, 3.2) {
		t.Errorf("4 MiB buckets: exposed %v of %v, want 1.7 of 3.2", p.Exposed, p.AllReduce)
	}
	if want := 4 + 0.03 + p.Gather + p.FeatureGrad + 1.7; !near(p.Step, want) {
		t.Errorf("step %v, want %v", p.Step, want)
	}
	p = m.predict(2, net, 0, -1, false)
	if !near(p.Exposed, 3.2) {
		t.Errorf("one all-reduce after the backward pass: exposed %v, want 3.2", p.Exposed)
	}
	// One 16 MiB bucket: ready at the end, all exposed too.
	if p := m.predict(2, net, 0, 16, false); !near(p.Exposed, 3.2) {
		t.Errorf("one bucket: exposed %v, want 3.2", p.Exposed)
	}
	// A fast link: each bucket 0.008 s; the last one is exposed.
	fast := Net{Gbit: net.Gbit * 100}
	if p := m.predict(2, fast, 0, 4, false); !near(p.Exposed, 0.008) {
		t.Errorf("fast link: exposed %v, want 0.008", p.Exposed)
	}
	// compute given: the backward pass scales with it (half the step).
	if p := m.predict(2, net, 8, 4, false); !near(p.Exposed, 0.8) {
		t.Errorf("compute 8 s (backward 4 s): exposed %v, want 0.8 (ready 1,2,3,4; ends 1.8,2.8,3.8,4.8)", p.Exposed)
	}
	if p := m.predict(1, net, 0, 4, false); p.Step != 4 || p.AllReduce != 0 {
		t.Errorf("one rank: %+v", p)
	}
}

// TestContrastiveScaling: measured points are used as they are; beyond,
// gather grows with the square of the ranks and local linearly.
func TestContrastiveScaling(t *testing.T) {
	m := model()
	for _, c := range []struct {
		ranks int
		local bool
		want  float64
	}{{2, false, 0.04}, {8, false, 0.64}, {2, true, 0.02}, {8, true, 0.08}} {
		if got := m.contrastiveAt(c.ranks, c.local); !near(got, c.want) {
			t.Errorf("contrastiveAt(%d, local %v) = %v, want %v", c.ranks, c.local, got, c.want)
		}
	}
	if p := m.predict(8, Net{Gbit: 10}, 0, 2, true); !near(p.ContrastiveExtra, 0.07) {
		t.Errorf("local, 8 ranks: extra contrastive %v, want 0.08 − 0.01", p.ContrastiveExtra)
	}
}

// TestMeasureAndPredict measures coca_tiny (a real, tiny measurement);
// predict and check read it.
func TestMeasureAndPredict(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	// measure only knows built-in configs; coca_tiny is the smallest
	if err := measure([]string{"-config", "coca_tiny", "-batch", "2", "-steps", "1", "-ranks", "1,2"}, &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := readMeasured(path)
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v, %d measurements", err, len(ms))
	}
	m := ms[0]
	var total int
	for _, r := range m.Ready {
		total += r.Values
		if r.At < 0 || r.At > 1 {
			t.Errorf("a gradient completes at %v of the backward pass", r.At)
		}
	}
	if total != m.Params || m.Forward <= 0 || m.Backward <= 0 || m.Gather[2] <= 0 || m.Local[2] <= 0 {
		t.Errorf("measurement %+v (ready covers %d of %d values)", m, total, m.Params)
	}
	var out bytes.Buffer
	if err := predict([]string{"-in", path, "-machines", "2,8", "-ranks-per-machine", "2", "-gbit", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "coca_tiny:") || strings.Count(out.String(), "\n") != 6 || !strings.Contains(out.String(), "       8    16      1 ") {
		t.Errorf("predict printed:\n%s", out.String())
	}
	// check: a measured time equal to the prediction passes, one 30% off fails.
	p := m.predict(2, Net{Gbit: 10, Latency: 50 * time.Microsecond}, 0.1, 2, false)
	ms1 := func(v float64) string { return strconv.FormatFloat(v*1e3, 'f', 6, 64) }
	if err := check([]string{"-in", path, "-config", "coca_tiny", "-compute", "100", "-measured", ms1(p.Step), "-gbit", "10"}, &out); err != nil {
		t.Errorf("check of the prediction itself: %v", err)
	}
	if err := check([]string{"-in", path, "-config", "coca_tiny", "-compute", "100", "-measured", ms1(p.Step * 1.3), "-gbit", "10"}, &out); err == nil {
		t.Error("check passed a measurement 30% off")
	}
}
