// Command dist-compare compares two `coca train` run directories: the loss
// values of every step in metrics.jsonl and the parameters in
// model.safetensors. scripts/dist-hosts.sh uses it to check data-parallel
// runs against one process.
//
//	go run ./scripts/dist-compare [-loss 1e-6] [-params 1e-6] [-exact] RUN_A RUN_B
//
// Losses are compared step by step, relative to run A's value
// (|a-b|/|a|). Parameters are compared over the whole model,
// ‖θ_A−θ_B‖/‖θ_A‖ (AdamW turns the float rounding of parameters whose true
// gradient is zero into steps of the learning rate's size, so a per-tensor
// maximum is printed but not bounded). -exact requires identical bits
// instead: every loss and every parameter.
//
// It prints the worst differences and exits 1 when a bound is exceeded.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gococa/gococa/tensor/safetensors"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dist-compare:", err)
		os.Exit(1)
	}
}

type metric struct {
	Step        int      `json:"step"`
	Loss        *float64 `json:"loss"`
	Contrastive float64  `json:"contrastive_loss"`
	Caption     float64  `json:"caption_loss"`
}

// readMetrics returns the loss lines of dir/metrics.jsonl by step.
func readMetrics(dir string) (map[int]metric, []int, error) {
	path := filepath.Join(dir, "metrics.jsonl")
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out := map[int]metric{}
	var steps []int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var m metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if m.Loss == nil { // an evaluation line
			continue
		}
		if _, dup := out[m.Step]; !dup {
			steps = append(steps, m.Step)
		}
		out[m.Step] = m // a resumed run logs the steps after its checkpoint again: keep the last
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	slices.Sort(steps)
	return out, steps, nil
}

func readParams(dir string) (map[string][]float32, error) {
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, n := range f.Names() {
		if out[n], err = f.Float32(n); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, n, err)
		}
	}
	return out, nil
}

// result is what compare found.
type result struct {
	steps          int
	worstLoss      float64 // relative
	worstLossStep  int
	lossBitsDiffer int // steps whose losses differ in any bit
	params         int
	whole          float64 // ‖Δ‖/‖θ‖
	worstTensor    float64 // max|Δ|/max|θ| over one tensor
	worstName      string
	paramBitsDiff  int // parameters that differ in any bit
}

func compare(a, b string) (result, error) {
	var r result
	ma, sa, err := readMetrics(a)
	if err != nil {
		return r, err
	}
	mb, sb, err := readMetrics(b)
	if err != nil {
		return r, err
	}
	if !slices.Equal(sa, sb) {
		return r, fmt.Errorf("%s logs steps %v, %s steps %v", a, short(sa), b, short(sb))
	}
	if len(sa) == 0 {
		return r, fmt.Errorf("%s: no loss lines in metrics.jsonl", a)
	}
	r.steps = len(sa)
	for _, s := range sa {
		x, y := ma[s], mb[s]
		for _, p := range [][2]float64{{*x.Loss, *y.Loss}, {x.Contrastive, y.Contrastive}, {x.Caption, y.Caption}} {
			if p[0] != p[1] {
				r.lossBitsDiffer++
			}
			d := math.Abs(p[0]-p[1]) / math.Max(math.Abs(p[0]), math.SmallestNonzeroFloat64)
			if d > r.worstLoss || math.IsNaN(d) {
				r.worstLoss, r.worstLossStep = d, s
			}
		}
	}
	pa, err := readParams(a)
	if err != nil {
		return r, err
	}
	pb, err := readParams(b)
	if err != nil {
		return r, err
	}
	names := make([]string, 0, len(pa))
	for n := range pa {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(pa) != len(pb) {
		return r, fmt.Errorf("%s holds %d tensors, %s %d", a, len(pa), b, len(pb))
	}
	var num, den float64
	for _, n := range names {
		x, y := pa[n], pb[n]
		if len(x) != len(y) {
			return r, fmt.Errorf("tensor %s: %d values in %s, %d in %s", n, len(x), a, len(y), b)
		}
		var scale, diff float64
		for i := range x {
			u, v := float64(x[i]), float64(y[i])
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				r.paramBitsDiff++
			}
			scale, diff = math.Max(scale, math.Abs(u)), math.Max(diff, math.Abs(u-v))
			num, den = num+(u-v)*(u-v), den+u*u
		}
		r.params += len(x)
		if scale > 0 && diff/scale > r.worstTensor {
			r.worstTensor, r.worstName = diff/scale, n
		}
	}
	if den > 0 {
		r.whole = math.Sqrt(num / den)
	}
	return r, nil
}

func short(s []int) string {
	if len(s) <= 6 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%v…%v (%d)", s[:3], s[len(s)-3:], len(s))
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dist-compare", flag.ContinueOnError)
	lossTol := fs.Float64("loss", 1e-6, "largest relative difference of a loss value")
	paramTol := fs.Float64("params", 1e-6, "largest ‖Δθ‖/‖θ‖ over the whole model")
	exact := fs.Bool("exact", false, "require identical bits (losses and parameters)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: dist-compare [-loss tol] [-params tol] [-exact] RUN_A RUN_B")
	}
	a, b := fs.Arg(0), fs.Arg(1)
	r, err := compare(a, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d steps: worst loss difference %.3g relative (step %d), %d of %d loss values differ in some bit\n",
		r.steps, r.worstLoss, r.worstLossStep, r.lossBitsDiffer, 3*r.steps)
	fmt.Fprintf(stdout, "%d parameters: ‖Δ‖/‖θ‖ = %.3g over the whole model, worst tensor %s max|Δ|/max|θ| = %.3g, %d values differ in some bit\n",
		r.params, r.whole, r.worstName, r.worstTensor, r.paramBitsDiff)
	var bad []string
	if *exact {
		if r.lossBitsDiffer > 0 || r.paramBitsDiff > 0 {
			bad = append(bad, "not bit-identical")
		}
	} else {
		if !(r.worstLoss <= *lossTol) {
			bad = append(bad, fmt.Sprintf("a loss differs by %.3g > %g", r.worstLoss, *lossTol))
		}
		if !(r.whole <= *paramTol) {
			bad = append(bad, fmt.Sprintf("parameters differ by %.3g > %g", r.whole, *paramTol))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s vs %s: %s", a, b, strings.Join(bad, "; "))
	}
	return nil
}
