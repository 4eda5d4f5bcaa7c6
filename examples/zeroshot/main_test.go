package main

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestZeroShot runs the example on the small model coca train wrote in
// coca/testdata: one line per class, probabilities summing to 1, most
// likely first, the right shape on top.
func TestZeroShot(t *testing.T) {
	var out bytes.Buffer
	classes := []string{"a small blue circle", "a large red cross", "a large red square", "a small green star"}
	if err := run([]string{"--classes", strings.Join(classes, ","), "--template", "{}", "../../coca/testdata/shapes-easy", "../../coca/testdata/shapes-easy/large-red-cross.png"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(classes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(classes), out.String())
	}
	sum, prev := 0.0, 1.0
	seen := map[string]bool{}
	for _, l := range lines {
		p, name, ok := strings.Cut(l, "\t")
		v, err := strconv.ParseFloat(p, 64)
		if !ok || err != nil || v > prev+1e-9 {
			t.Fatalf("bad or unsorted line %q in\n%s", l, out.String())
		}
		sum, prev, seen[name] = sum+v, v, true
	}
	if math.Abs(sum-1) > 1e-3 || len(seen) != len(classes) || !strings.HasSuffix(lines[0], "\ta large red cross") {
		t.Errorf("probabilities sum to %v over %d classes:\n%s", sum, len(seen), out.String())
	}
	// The default templates, and errors.
	if err := run([]string{"--classes", "cross,square", "../../coca/testdata/shapes-easy", "../../coca/testdata/shapes-easy/large-red-cross.png"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"../../coca/testdata/shapes-easy"}, {"--classes", "a,b", "../../coca/testdata/nope", "x.png"}} {
		if err := run(args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
