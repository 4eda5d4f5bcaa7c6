package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/gococa/gococa/dist"
	"github.com/gococa/gococa/train"
)

func init() {
	register("train", "train a CoCa (default: a small model on the built-in synthetic dataset, about 4 minutes on 2 cores)", runTrain)
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "[flags]",
		"coca train --out runs/shapes            # the built-in dataset\n  coca train --data pairs.tsv --config coca_small --steps 5000 --out runs/mine\n  coca train --out runs/shapes --resume    # continue a stopped run", stderr)
	var o train.Options
	fs.StringVar(&o.Out, "out", "runs/coca", "run directory: metrics.jsonl, loss.png, samples.txt, checkpoints, model.safetensors")
	fs.StringVar(&o.Config, "config", "coca_shapes", "built-in model config name or open_clip JSON file")
	fs.StringVar(&o.Data, "data", "synthetic", "synthetic, a captions .tsv/.csv (image path TAB caption), a COCO captions .json, or .tar shards (comma-separated)")
	fs.StringVar(&o.ImageRoot, "image-root", "", "image directory for a COCO captions file")
	fs.StringVar(&o.Difficulty, "difficulty", "default", "synthetic dataset difficulty: easy, default, hard")
	fs.BoolVar(&o.SkipBad, "skip-bad", false, "skip unreadable items (counted and reported) instead of stopping")
	fs.StringVar(&o.Tokenizer, "tokenizer", "auto", "auto (BPE learnt from the synthetic captions; CLIP's otherwise), clip, or a merges file")
	fs.IntVar(&o.VocabMerges, "merges", 150, "BPE merges to learn with --tokenizer auto")
	fs.IntVar(&o.Steps, "steps", 4600, "optimizer steps")
	fs.IntVar(&o.BatchSize, "batch", 64, "batch size")
	fs.Float64Var(&o.LR, "lr", 2e-3, "peak learning rate")
	fs.Float64Var(&o.MinLR, "min-lr", 0, "final learning rate (default lr/50)")
	fs.IntVar(&o.Warmup, "warmup", 0, "warmup steps (default steps/20)")
	fs.StringVar(&o.Schedule, "schedule", "cosine", "learning-rate schedule: cosine, linear, constant")
	fs.StringVar(&o.Optimizer, "optimizer", "adamw", "adamw, adafactor or sgd")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0.05, "decoupled weight decay")
	fs.Float64Var(&o.ClipNorm, "clip", 1, "global gradient-norm clip (negative: off)")
	fs.Float64Var(&o.ContrastiveWeight, "contrastive-weight", 1, "weight of the contrastive loss")
	fs.Float64Var(&o.CaptionWeight, "caption-weight", 2, "weight of the caption loss")
	seed := fs.Uint64("seed", 0, "random seed (a run is reproducible for a given seed and thread count)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its last checkpoint")
	fs.StringVar(&o.Init, "init", "", "start from these model weights (.safetensors) to fine-tune")
	fs.IntVar(&o.LogEvery, "log-every", 10, "steps between metric lines")
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "steps between evaluations (default steps/4)")
	fs.IntVar(&o.SaveEvery, "save-every", 250, "steps between checkpoints")
	fs.IntVar(&o.StopAt, "stop-at", 0, "stop after a checkpoint at this step (continue later with --resume)")
	fs.IntVar(&o.Workers, "workers", 0, "data-loading goroutines (default GOMAXPROCS)")
	distKind := fs.String("dist", "none", "data-parallel training: none; mpi (one rank per process, started by mpirun; needs a -tags mpi build); nccl (one rank per GPU with --device cuda, -tags cuda; rank 0's host:port in GOCOCA_NCCL_ADDR or MASTER_ADDR/MASTER_PORT; tested on the CUDA emulator only); --batch is per rank")
	fs.StringVar(&o.Parallel.Loss, "dist-loss", "gather", "contrastive loss across ranks: gather (every rank computes the global loss) or local (each rank its own rows against all ranks' features)")
	fs.Float64Var(&o.Parallel.BucketMB, "dist-bucket-mb", 2, "gradient all-reduce bucket size in MiB, reduced while the backward pass runs (negative: one all-reduce after it)")
	distTimeout := fs.Duration("dist-timeout", 10*time.Minute, "longest wait in a collective before a rank gives up (must exceed evaluation and checkpoint time)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the run to this file")
	device := addDeviceFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see coca train -h)", fs.Arg(0))
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile %s: %w", *cpuProfile, err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); cerr != nil {
				fmt.Fprintf(stderr, "coca train: --cpuprofile %s: %v\n", *cpuProfile, cerr)
			}
		}()
	}
	if err := useDevice(*device, stderr); err != nil {
		return err
	}
	o.Seed = *seed
	o.Progress, o.Log = stderr, stdout
	if *distKind != "none" {
		comm, err := dist.Open(*distKind, dist.Options{Timeout: *distTimeout, Log: stderr})
		if err != nil {
			return err
		}
		o.Parallel.Comm = comm
		if comm.Rank() != 0 {
			stdout = io.Discard
		}
	}
	res, err := train.Run(o)
	if o.Parallel.Comm != nil {
		if err != nil {
			// A rank that gives up leaves MPI without finalising: the
			// launcher then stops the others.
			return err
		}
		if cerr := o.Parallel.Comm.Close(); cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return err
	}
	f := res.Final
	fmt.Fprintf(stdout, "done: %d steps in %s; image→text R@1 %.3f, text→image R@1 %.3f, zero-shot top-1 %.3f, exact captions %.3f (%s)\n",
		res.Steps, res.Elapsed.Round(1e9), f.ImageToTextR1, f.TextToImageR1, f.ZeroShotTop1, f.CaptionExactMatch, o.Out)
	return nil
}
