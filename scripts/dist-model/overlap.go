package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/gococa/gococa/dist"
)

// overlap measures, under mpirun (a -tags mpi build), how much of the
// gradient all-reduce the buckets hide, with the compute replaced by
// sleeping: the backward pass of a measured config (its duration and when
// each gradient completes) is replayed as sleep, and each bucket's
// all-reduce starts when its last gradient would be complete, driven by
// Test calls every -poll while "computing", as train/dist.go drives it from
// the backward pass. A barrier before every step keeps the ranks in step.
// Sleeping instead of computing takes the other load of a shared machine
// out of the compute, so that what is measured is the link and the
// overlap. It prints, per step, the median time from the end of the
// backward pass to the end of the last all-reduce (exposed) and the median
// duration of the all-reduce of the whole gradient at once.
func overlap(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("overlap", flag.ContinueOnError)
	in := fs.String("in", "scripts/dist-model/measured.jsonl", "measurements (dist-model measure)")
	config := fs.String("config", "coca_shapes", "config whose backward pass is replayed")
	backward := fs.Duration("backward", 0, "duration of the backward pass (default: as measured)")
	bucket := fs.Float64("bucket-mb", 2, "gradient bucket size in MiB (negative: one all-reduce after the backward pass)")
	steps := fs.Int("steps", 30, "steps (the first is dropped)")
	poll := fs.Duration("poll", 200*time.Microsecond, "interval between Test calls while computing")
	timeout := fs.Duration("timeout", time.Minute, "--dist-timeout of the collectives")
	gbit := fs.Float64("gbit", 0, "the link rate, Gbit/s, to print the model's figures beside the measured ones (0: none)")
	latency := fs.Duration("latency", 50*time.Microsecond, "latency of one message (for the model)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ms, err := readMeasured(*in)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ms, func(m Measured) bool { return m.Config == *config })
	if i < 0 {
		return fmt.Errorf("%s: no measurement of %s", *in, *config)
	}
	m := ms[i]
	tb := *backward
	if tb == 0 {
		tb = time.Duration(m.Backward * float64(time.Second))
	}
	c, err := dist.Open("mpi", dist.Options{Timeout: *timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	// The buckets: sizes and ready times, as predict builds them.
	limit := math.MaxInt
	if *bucket > 0 {
		limit = max(int(*bucket*(1<<20)/4), 1)
	}
	var sizes []int
	var ready []time.Duration
	size, at := 0, 0.0
	for _, r := range m.Ready {
		if size > 0 && size+r.Values > limit {
			sizes, ready = append(sizes, size), append(ready, time.Duration(at*float64(tb)))
			size = 0
		}
		size += r.Values
		at = r.At
	}
	sizes, ready = append(sizes, size), append(ready, tb)
	if *bucket < 0 {
		ready[len(ready)-1] = tb
	}
	bufs := make([][]float32, len(sizes))
	for k, n := range sizes {
		bufs[k] = make([]float32, n)
	}
	whole := make([]float32, m.Params)
	var exposed, alone []float64
	for s := 0; s < *steps; s++ {
		if err := c.Barrier(); err != nil {
			return err
		}
		t0 := time.Now()
		var reqs []dist.Request
		for k := range sizes {
			for time.Since(t0) < ready[k] {
				time.Sleep(min(*poll, ready[k]-time.Since(t0)))
				for _, r := range reqs {
					if _, err := r.Test(); err != nil {
						return err
					}
				}
			}
			r, err := dist.StartAllReduceSum(c, bufs[k])
			if err != nil {
				return err
			}
			reqs = append(reqs, r)
		}
		for time.Since(t0) < tb { // the rest of the backward pass
			time.Sleep(min(*poll, tb-time.Since(t0)))
			for _, r := range reqs {
				if _, err := r.Test(); err != nil {
					return err
				}
			}
		}
		tEnd := time.Now()
		for _, r := range reqs {
			if err := r.Wait(); err != nil {
				return err
			}
		}
		e := time.Since(tEnd)
		if err := c.Barrier(); err != nil {
			return err
		}
		t1 := time.Now()
		if err := c.AllReduceSum(whole); err != nil {
			return err
		}
		a := time.Since(t1)
		if s > 0 {
			exposed, alone = append(exposed, e.Seconds()), append(alone, a.Seconds())
		}
	}
	if c.Rank() == 0 {
		fmt.Fprintf(out, "%s, %d ranks, backward %.1f ms replayed, %d bucket(s) of %g MiB: exposed %.2f ms per step (median of %d; range %.2f–%.2f), all-reduce of the whole gradient alone %.2f ms",
			m.Config, c.Size(), tb.Seconds()*1e3, len(sizes), *bucket, median(exposed)*1e3, len(exposed), slices.Min(exposed)*1e3, slices.Max(exposed)*1e3, median(alone)*1e3)
		if *gbit > 0 {
			m.Backward = tb.Seconds()
			p := m.predict(c.Size(), Net{Gbit: *gbit, Latency: *latency}, m.Forward+m.Backward+m.Step, *bucket, false)
			fmt.Fprintf(out, "; model at %g Gbit/s: exposed %.2f ms, all-reduce %.2f ms", *gbit, p.Exposed*1e3, p.AllReduce*1e3)
		}
		fmt.Fprintln(out)
	}
	return nil
}

// allreduce times, under mpirun, blocking all-reduces of -sizes float32
// values (median of -reps after a barrier each), to see a link's latency
// and bandwidth as MPI gets them.
func allreduce(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("allreduce", flag.ContinueOnError)
	sizes := fs.String("sizes", "1,1024,16384,65536,262144,632449", "values per all-reduce")
	reps := fs.Int("reps", 20, "all-reduces per size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ns, err := ints(*sizes)
	if err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	c, err := dist.Open("mpi", dist.Options{Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, n := range ns {
		buf := make([]float32, n)
		var ts []float64
		for r := 0; r <= *reps; r++ {
			if err := c.Barrier(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
			if r > 0 {
				ts = append(ts, time.Since(t0).Seconds())
			}
		}
		if c.Rank() == 0 {
			fmt.Fprintf(out, "all-reduce of %9d values (%10d bytes) over %d ranks: median %8.3f ms (range %.3f–%.3f), %7.1f MB/s of data\n",
				n, 4*n, c.Size(), median(ts)*1e3, slices.Min(ts)*1e3, slices.Max(ts)*1e3, 4*float64(n)/median(ts)/1e6)
		}
	}
	return nil
}
