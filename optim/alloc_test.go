package optim

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// benchParams makes a CoCa-like parameter list: a few large matrices, many
// small vectors, all with gradients.
func benchParams(width, layers int) []*tensor.Tensor {
	var ps []*tensor.Tensor
	add := func(name string, shape ...int) {
		p := tensor.NewParam(name, shape...)
		g := make([]float32, p.Numel())
		d := p.Data()
		for i := range g {
			g[i] = float32((i*7919)%2001-1000) / 1000
			d[i] = float32((i*104729)%2003-1001) / 2000
		}
		setGrad(p, g)
		ps = append(ps, p)
	}
	for l := range layers {
		pre := fmt.Sprintf("transformer.resblocks.%d.", l)
		add(pre+"ln_1.weight", width)
		add(pre+"ln_1.bias", width)
		add(pre+"attn.in_proj_weight", 3*width, width)
		add(pre+"attn.in_proj_bias", 3*width)
		add(pre+"attn.out_proj.weight", width, width)
		add(pre+"attn.out_proj.bias", width)
		add(pre+"ln_2.weight", width)
		add(pre+"ln_2.bias", width)
		add(pre+"mlp.c_fc.weight", 4*width, width)
		add(pre+"mlp.c_fc.bias", 4*width)
		add(pre+"mlp.c_proj.weight", width, 4*width)
		add(pre+"mlp.c_proj.bias", width)
	}
	add("logit_scale")
	return ps
}

// TestStepAllocs checks that Step allocates nothing after the first call.
// On the serial path the count must be exactly 0. On the parallel path the
// Go runtime itself allocates now and then while Step runs: a new OS thread
// (runtime.allocm, when the scheduler wakes one more) and, after each
// collection empties its caches, the wait-queue entries of goroutines
// blocking on the helper pool's channel and wait group. Those are bounded,
// not per step, so the parallel check is that 100 steps allocate fewer
// than 10 objects (one allocation per step would be 100).
func TestStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, parallel := range []bool{false, true} {
		for _, c := range stateCases {
			t.Run(fmt.Sprintf("%s/parallel=%v", c.name, parallel), func(t *testing.T) {
				if parallel {
					forceParallel(t)
				}
				ps := benchParams(16, 2)
				o := mustOpt(t, c.make, ps)
				o.Step(1e-3)
				if !parallel {
					if n := testing.AllocsPerRun(20, func() { o.Step(1e-3) }); n != 0 {
						t.Errorf("%v allocations per step", n)
					}
					return
				}
				// finish any collection the other tests' garbage started
				runtime.GC()
				for range 20 {
					o.Step(1e-3)
				}
				// testing.AllocsPerRun runs on one P; count by hand so
				// that the pool's helpers take part.
				const runs = 100
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range runs {
					o.Step(1e-3)
				}
				runtime.ReadMemStats(&after)
				if n := after.Mallocs - before.Mallocs; n >= runs/10 {
					t.Errorf("%d allocations in %d steps", n, runs)
				}
			})
		}
	}
}

// BenchmarkStep measures one optimizer step over a CoCa-like parameter
// list (7.26 M parameters: 12 blocks of width 224 and logit_scale). The
// PyTorch peer is testdata/bench_torch.py.
func BenchmarkStep(b *testing.B) {
	for _, c := range stateCases {
		if c.name == "adafactor_hf" {
			continue
		}
		b.Run("impl="+c.name+"/size=7.26M", func(b *testing.B) {
			ps := benchParams(224, 12)
			n := 0
			for _, p := range ps {
				n += p.Numel()
			}
			o, err := c.make(ps)
			if err != nil {
				b.Fatal(err)
			}
			o.Step(1e-6)
			b.ResetTimer()
			for range b.N {
				o.Step(1e-6)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/param")
		})
	}
}
