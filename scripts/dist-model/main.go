// Command dist-model is the scaling model of data-parallel training (README,
// "Train on several processes or machines"): it measures what one rank
// computes and predicts the step time of N ranks on N machines from it.
//
//	go run ./scripts/dist-model measure [-config coca_shapes] [-batch 32] [-threads 1] [-steps 5] >> measured.jsonl
//	go run ./scripts/dist-model predict [-in measured.jsonl] [-ranks 2,8,64] [-gbit 1,10,100]
//	go run ./scripts/dist-model check -in measured.jsonl -compute MS -gbit G -measured MS [-bucket-mb 2|-1]
//	mpirun -np 2 dist-model overlap [-config coca_shapes] [-bucket-mb 2]     (built with -tags mpi)
//	mpirun -np 2 dist-model allreduce [-sizes 1,65536,632449]                (built with -tags mpi)
//
// measure runs training steps of a built-in config on random data in this
// process and times their parts: the forward pass, the backward pass (and
// when each parameter's gradient is complete in it), the AdamW step, and the
// contrastive loss over the gathered features of N·batch rows for N in
// -ranks. coca_shapes is measured as `coca train` builds it (vocabulary
// 577, context 12).
//
// predict prints, for every measured config, rank count and link speed:
//
//	step = compute + Δcontrastive + gather + feature-gradient + exposed gradient all-reduce
//
// compute is the measured forward, backward and optimizer step of one rank
// at its batch; Δcontrastive the extra work of the contrastive loss over
// N·batch rows instead of batch (--dist-loss gather: every rank computes
// all of it); gather the ring all-gather of every rank's features (2·batch·D
// + 1 floats), (N−1)·(α + bytes/bw); feature-gradient the ring all-reduce of
// the gathered features' gradient (2·N·batch·D floats); and the gradient
// all-reduce 4 bytes per parameter, ring cost 2(N−1)/N·bytes/bw + 2(N−1)·α
// per bucket. Buckets (of -bucket-mb, in the order the backward pass
// completes the parameters, as train/dist.go builds them) start when their
// last gradient is complete and share the link one after another; what runs
// past the end of the backward pass is exposed. With -bucket-mb -1 the whole
// all-reduce follows the backward pass. bw is the link rate times the share
// of a frame that is TCP payload (1448 of 1514 bytes); α the latency of one
// message (-latency). One rank per machine: the ring crosses every
// machine's link once per step of the ring, so a machine with several ranks
// on shared memory sees the same bytes on its link.
//
// check compares the model's prediction for 2 ranks with a measured step
// time, taking the measured step time of one rank alone as compute (what
// scripts/dist-hosts.sh slow measures); it exits 1 when they differ by more
// than -tolerance.
//
// overlap replays a measured backward pass as sleep under mpirun and
// measures the share of the gradient all-reduce its buckets hide;
// allreduce times all-reduces of a few sizes (see overlap.go).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dist-model measure|predict|check|overlap|allreduce [flags] (see the package comment)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "measure":
		err = measure(os.Args[2:], os.Stdout)
	case "predict":
		err = predict(os.Args[2:], os.Stdout)
	case "check":
		err = check(os.Args[2:], os.Stdout)
	case "overlap":
		err = overlap(os.Args[2:], os.Stdout)
	case "allreduce":
		err = allreduce(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q (want measure, predict, check, overlap or allreduce)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist-model:", err)
		os.Exit(1)
	}
}

// Measured is what measure records of one config.
type Measured struct {
	Config   string  `json:"config"`
	Params   int     `json:"params"`
	EmbedDim int     `json:"embed_dim"`
	Batch    int     `json:"batch"`
	Threads  int     `json:"threads"`
	Clock    string  `json:"clock"`      // cpu: the process's CPU time (one thread), wall: elapsed time
	Forward  float64 `json:"forward_s"`  // forward pass and both losses
	Backward float64 `json:"backward_s"` // backward pass
	Step     float64 `json:"optimizer_s"`
	// Ready lists the parameters in the order the backward pass completes
	// their gradients: their size and the share of the backward pass
	// elapsed when the gradient was complete.
	Ready []ReadyParam `json:"ready"`
	// Gather and Local are the forward and backward time of the contrastive
	// loss over the features gathered from N ranks, by N: all N·batch rows
	// (--dist-loss gather) and one rank's batch rows against all N·batch
	// (local).
	Gather map[int]float64 `json:"contrastive_gather_s"`
	Local  map[int]float64 `json:"contrastive_local_s"`
}

// ReadyParam is one parameter's gradient completing in the backward pass.
type ReadyParam struct {
	Values int     `json:"n"`
	At     float64 `json:"at"` // share of the backward pass, 0..1
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func measure(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	name := fs.String("config", "coca_shapes", "built-in config")
	batch := fs.Int("batch", 32, "batch per rank")
	threads := fs.Int("threads", 1, "threads (GOMAXPROCS) of the rank")
	steps := fs.Int("steps", 5, "timed steps (after one warm-up step); medians are recorded")
	clock := fs.String("clock", "", "cpu (the process's CPU time: steady on a busy machine; one thread only) or wall; default cpu for one thread")
	ranks := fs.String("ranks", "1,2,4,8,64", "rank counts whose gathered contrastive loss is timed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := ints(*ranks)
	if err != nil {
		return fmt.Errorf("-ranks: %w", err)
	}
	if *clock == "" {
		*clock = "wall"
		if *threads == 1 {
			*clock = "cpu"
		}
	}
	now := func() time.Duration { return time.Duration(time.Now().UnixNano()) }
	switch *clock {
	case "cpu":
		if *threads != 1 {
			return errors.New("-clock cpu needs -threads 1 (the CPU time of several threads adds up)")
		}
		now = cpuNow
	case "wall":
	default:
		return fmt.Errorf("-clock %q: want cpu or wall", *clock)
	}
	cfg, err := coca.Builtin(*name)
	if err != nil {
		return err
	}
	if *name == "coca_shapes" { // as coca train fits it to the built-in data
		cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 577, 577
		cfg.Text.ContextLength, cfg.Multimodal.ContextLength = 12, 12
	}
	runtime.GOMAXPROCS(*threads)
	m := coca.New(cfg)
	m.Init(1)
	var params []*tensor.Tensor
	index := map[*tensor.Tensor]int{}
	for i, p := range m.Params() {
		params = append(params, p.Tensor)
		index[p.Tensor] = i
	}
	opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	if err != nil {
		return err
	}
	b, s, l := *batch, cfg.Vision.ImageSize, cfg.Text.ContextLength
	g := tensor.NewRNG(2)
	img := tensor.New(b, 3, s, s)
	g.Normal(img, 0, 1)
	text := make([]int, b*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	res := Measured{Config: *name, Params: m.NumParams(), EmbedDim: cfg.EmbedDim, Batch: b, Threads: *threads, Clock: *clock, Gather: map[int]float64{}, Local: map[int]float64{}}
	var fwd, bwd, stp []float64
	for i := 0; i <= *steps; i++ {
		for _, p := range params {
			p.ZeroGrad()
		}
		t0 := now()
		o := m.Forward(img, text, b, l)
		loss := m.Loss(o, text, b, l, coca.DefaultLossWeights)
		t1 := now()
		var ready []time.Duration
		var order []int
		seen := make([]bool, len(params))
		tensor.BackwardRelease(loss.Total, func(t *tensor.Tensor) {
			if k, ok := index[t]; ok && !seen[k] {
				seen[k] = true
				order = append(order, k)
				ready = append(ready, now())
			}
		})
		t2 := now()
		opt.Step(1e-4)
		t3 := now()
		if i == 0 {
			continue // warm-up
		}
		fwd, bwd, stp = append(fwd, (t1-t0).Seconds()), append(bwd, (t2-t1).Seconds()), append(stp, (t3-t2).Seconds())
		if i == *steps {
			res.Ready = res.Ready[:0]
			for j, k := range order {
				res.Ready = append(res.Ready, ReadyParam{Values: params[k].Numel(), At: (ready[j] - t1).Seconds() / (t2 - t1).Seconds()})
			}
			for k := range params {
				if !seen[k] {
					res.Ready = append(res.Ready, ReadyParam{Values: params[k].Numel(), At: 1})
				}
			}
		}
	}
	res.Forward, res.Backward, res.Step = median(fwd), median(bwd), median(stp)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range rs {
		rows := n * b
		for _, local := range []bool{false, true} {
			var ts []float64
			for i := 0; i <= *steps; i++ {
				gi := tensor.FromSlice(unitRows(rng, rows, cfg.EmbedDim), rows, cfg.EmbedDim)
				gt := tensor.FromSlice(unitRows(rng, rows, cfg.EmbedDim), rows, cfg.EmbedDim)
				gi.SetRequiresGrad(true)
				gt.SetRequiresGrad(true)
				lo, hi := 0, rows
				if local {
					lo, hi = 0, b
				}
				t0 := now()
				con := coca.ContrastiveLoss(tensor.Rows(gi, lo, hi), tensor.Rows(gt, lo, hi), gi, gt, lo, tensor.Scalar(14.3), 1)
				tensor.BackwardRelease(con, nil)
				if i > 0 {
					ts = append(ts, (now() - t0).Seconds())
				}
			}
			if local {
				res.Local[n] = median(ts)
			} else {
				res.Gather[n] = median(ts)
			}
		}
	}
	enc := json.NewEncoder(out)
	return enc.Encode(res)
}

// cpuNow is the CPU time of this process so far.
func cpuNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

func unitRows(rng *rand.Rand, n, d int) []float32 {
	out := make([]float32, n*d)
	for i := 0; i < n; i++ {
		var ss float64
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			out[i*d+j], ss = float32(v), ss+v*v
		}
		for j := 0; j < d; j++ {
			out[i*d+j] /= float32(math.Sqrt(ss))
		}
	}
	return out
}

func readMeasured(path string) ([]Measured, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Measured
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m Measured
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if m.Params <= 0 || m.Batch <= 0 || len(m.Ready) == 0 {
			return nil, fmt.Errorf("%s:%d: not a measurement of dist-model measure", path, line)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Net is a link: its rate and the latency of one message.
type Net struct {
	Gbit    float64
	Latency time.Duration
}

// payload is the share of a full Ethernet frame that is TCP payload (1448
// of 1514 bytes; tc's tbf counts the same bytes).
const payload = 1448.0 / 1514

func (n Net) bytesPerSec() float64 { return n.Gbit * 1e9 / 8 * payload }

// allReduce is the time of a ring all-reduce of bytes over ranks.
func (n Net) allReduce(bytes float64, ranks int) float64 {
	if ranks <= 1 {
		return 0
	}
	k := float64(ranks)
	return 2*(k-1)/k*bytes/n.bytesPerSec() + 2*(k-1)*n.Latency.Seconds()
}

// allGather is the time of a ring all-gather of bytes from each of ranks.
func (n Net) allGather(bytes float64, ranks int) float64 {
	if ranks <= 1 {
		return 0
	}
	k := float64(ranks)
	return (k-1)*bytes/n.bytesPerSec() + (k-1)*n.Latency.Seconds()
}

// Prediction is the model's step time and its parts, in seconds.
type Prediction struct {
	Compute, ContrastiveExtra, Gather, FeatureGrad, AllReduce, Exposed, Step float64
}

// contrastiveAt returns the measured contrastive loss time for ranks,
// scaled from the nearest measured rank count above (or the largest) as
// the work grows: quadratically in ranks for gather, linearly for local.
func (m Measured) contrastiveAt(ranks int, local bool) float64 {
	t := m.Gather
	if local {
		t = m.Local
	}
	if v, ok := t[ranks]; ok {
		return v
	}
	var keys []int
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return 0
	}
	near := keys[len(keys)-1]
	for _, k := range keys {
		if k >= ranks {
			near = k
			break
		}
	}
	r := float64(ranks) / float64(near)
	if local {
		return t[near] * r
	}
	return t[near] * r * r
}

// predict is the model: ranks ranks, one per machine, each link net, with
// compute the time one rank computes a step alone (0: the measured
// forward, backward and optimizer step) and buckets of bucketMB MiB
// (negative: one all-reduce after the backward pass).
func (m Measured) predict(ranks int, net Net, compute float64, bucketMB float64, local bool) Prediction {
	var p Prediction
	p.Compute = compute
	if p.Compute == 0 {
		p.Compute = m.Forward + m.Backward + m.Step
	}
	if ranks <= 1 {
		p.Step = p.Compute
		return p
	}
	b, d := float64(m.Batch), float64(m.EmbedDim)
	p.ContrastiveExtra = m.contrastiveAt(ranks, local) - m.contrastiveAt(1, false)
	p.Gather = net.allGather(4*(2*b*d+1), ranks)
	p.FeatureGrad = net.allReduce(4*(2*float64(ranks)*b*d+2), ranks)
	p.AllReduce = net.allReduce(4*float64(m.Params), ranks)
	// The buckets, as train/dist.go builds them from the completion order.
	limit := math.MaxInt
	if bucketMB > 0 {
		limit = max(int(bucketMB*(1<<20)/4), 1)
	}
	// The backward pass of this prediction's compute, in the measured
	// proportion of the step.
	tb := p.Compute * m.Backward / (m.Forward + m.Backward + m.Step)
	free, size, at := 0.0, 0, 0.0
	flush := func() {
		if size == 0 {
			return
		}
		start := math.Max(free, at*tb)
		if bucketMB < 0 {
			start = math.Max(free, tb)
		}
		free = start + net.allReduce(4*float64(size), ranks)
		size = 0
	}
	for _, r := range m.Ready {
		if size > 0 && size+r.Values > limit {
			flush()
		}
		size += r.Values
		at = r.At
	}
	flush()
	p.Exposed = math.Max(0, free-tb)
	p.Step = p.Compute + p.ContrastiveExtra + p.Gather + p.FeatureGrad + p.Exposed
	return p
}

func predict(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	in := fs.String("in", "scripts/dist-model/measured.jsonl", "measurements (dist-model measure)")
	machines := fs.String("machines", "2,8,64", "machine counts")
	perMachine := fs.Int("ranks-per-machine", 1, "ranks on each machine (each with the measured threads)")
	gbit := fs.String("gbit", "1,10,100", "link rates in Gbit/s")
	latency := fs.Duration("latency", 50*time.Microsecond, "latency of one message")
	bucket := fs.Float64("bucket-mb", 2, "gradient bucket size in MiB (negative: one all-reduce after the backward pass)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *perMachine < 1 {
		return errors.New("-ranks-per-machine must be at least 1")
	}
	ms, err := readMeasured(*in)
	if err != nil {
		return err
	}
	mc, err := ints(*machines)
	if err != nil {
		return fmt.Errorf("-machines: %w", err)
	}
	gs, err := floats(*gbit)
	if err != nil {
		return fmt.Errorf("-gbit: %w", err)
	}
	for _, m := range ms {
		one := m.predict(1, Net{}, 0, *bucket, false)
		fmt.Fprintf(out, "%s: %.1f M parameters (%.1f MB of gradient), embed %d, batch %d per rank, %d rank(s) of %d thread(s) per machine, buckets of %g MiB\n",
			m.Config, float64(m.Params)/1e6, 4*float64(m.Params)/1e6, m.EmbedDim, m.Batch, *perMachine, m.Threads, *bucket)
		fmt.Fprintf(out, "  one rank: %.3f s per step (%s time: forward %.3f, backward %.3f, AdamW %.3f)\n", one.Step, m.Clock, m.Forward, m.Backward, m.Step)
		fmt.Fprintf(out, "  %8s %5s %6s %9s %9s %9s | %9s %9s | %9s %9s | %8s %7s\n", "machines", "ranks", "Gbit/s", "allreduce", "exposed", "features",
			"contr.+", "step", "contr.+", "step", "img/s", "scaling")
		fmt.Fprintf(out, "  %8s %5s %6s %9s %9s %9s | %19s | %19s | %16s\n", "", "", "", "s", "s", "s", "--dist-loss gather", "--dist-loss local", "(the faster loss)")
		for _, nm := range mc {
			n := nm * *perMachine
			for _, g := range gs {
				net := Net{Gbit: g, Latency: *latency}
				pg := m.predict(n, net, 0, *bucket, false)
				pl := m.predict(n, net, 0, *bucket, true)
				best := min(pg.Step, pl.Step)
				fmt.Fprintf(out, "  %8d %5d %6g %9.3f %9.3f %9.3f | %9.3f %9.3f | %9.3f %9.3f | %8.0f %6.0f%%\n", nm, n, g, pg.AllReduce, pg.Exposed, pg.Gather+pg.FeatureGrad,
					pg.ContrastiveExtra, pg.Step, pl.ContrastiveExtra, pl.Step, float64(n*m.Batch)/best, 100*one.Step/best)
			}
		}
	}
	return nil
}

func check(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	in := fs.String("in", "", "measurements (dist-model measure); the first of -config is used")
	config := fs.String("config", "coca_shapes", "config")
	compute := fs.Float64("compute", 0, "measured ms per step of one rank alone")
	measured := fs.Float64("measured", 0, "measured ms per step of 2 ranks")
	g := fs.Float64("gbit", 10, "link rate, Gbit/s")
	latency := fs.Duration("latency", 50*time.Microsecond, "latency of one message")
	bucket := fs.Float64("bucket-mb", 2, "gradient bucket size in MiB (negative: one all-reduce after the backward pass)")
	tol := fs.Float64("tolerance", 0.2, "largest relative difference")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *compute <= 0 || *measured <= 0 {
		return errors.New("check needs -in, -compute and -measured")
	}
	ms, err := readMeasured(*in)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ms, func(m Measured) bool { return m.Config == *config })
	if i < 0 {
		return fmt.Errorf("%s: no measurement of %s", *in, *config)
	}
	p := ms[i].predict(2, Net{Gbit: *g, Latency: *latency}, *compute/1e3, *bucket, false)
	rel := (p.Step*1e3 - *measured) / *measured
	fmt.Fprintf(out, "predicted %.1f ms (compute %.1f + contrastive %.2f + gather %.2f + feature gradient %.2f + exposed all-reduce %.1f of %.1f), measured %.1f ms: %+.1f%%\n",
		p.Step*1e3, p.Compute*1e3, p.ContrastiveExtra*1e3, p.Gather*1e3, p.FeatureGrad*1e3, p.Exposed*1e3, p.AllReduce*1e3, *measured, 100*rel)
	if math.Abs(rel) > *tol {
		return fmt.Errorf("the prediction is %.0f%% off (tolerance %.0f%%)", 100*rel, 100**tol)
	}
	return nil
}
