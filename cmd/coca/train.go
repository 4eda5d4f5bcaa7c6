package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/dist"
	"github.com/gococa/gococa/train"
)

func init() {
	register("train", "train a CoCa (default: a small model on the built-in synthetic dataset, about 2½ minutes on 2 cores)", runTrain)
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "[flags]",
		"coca train --out runs/shapes            # the built-in dataset\n"+
			"  coca train --data pairs.tsv --config coca_small --steps 5000 --out runs/mine\n"+
			"  coca train --out runs/shapes --resume    # continue a stopped run with its own settings\n"+
			"  coca train --data train.csv --pretrained coca_ViT-B-32:laion2b_s13b_b90k \\\n"+
			"      --contrastive-weight 0 --caption-weight 1 --lr 1e-5 --weight-decay 0.1 --warmup 1000 --out runs/ft   # open_clip's caption fine-tune", stderr)
	var o train.Options
	// Flags that set recorded run settings (train.SettingNames): a resumed
	// run restores those not given, so only the flags given reach Options.
	fs.StringVar(&o.Config, "config", "coca_shapes", "built-in model config name or open_clip JSON file (with --init: default the config stored in it)")
	fs.StringVar(&o.Data, "data", "synthetic", "synthetic, a captions .tsv/.csv (image path and caption columns), a COCO captions .json, or webdataset .tar shards (brace patterns; several joined by :: or commas)")
	fs.StringVar(&o.ValData, "val-data", "", "evaluate on this dataset (same forms as --data) instead of pairs held out of --data")
	fs.IntVar(&o.HeldOut, "held-out", 0, "pairs to evaluate on: of a file --data, its last N are held out of training (default min(512, N/10): none under 10 pairs); of the synthetic data, N held-out and N zero-shot images (default 512); of --val-data, its first N (default all)")
	fs.StringVar(&o.ImageRoot, "image-root", "", "image directory for a COCO captions file (default: the annotation file's directory)")
	fs.StringVar(&o.CSVSeparator, "csv-separator", "", "captions-file separator: one character, \\t, tab or comma (default: tab; for .csv, a tab when its first line has one, else a comma)")
	fs.StringVar(&o.CSVImageKey, "csv-img-key", "", "header name of the image path column of a captions file (default filepath; headerless files: the first column)")
	fs.StringVar(&o.CSVCaptionKey, "csv-caption-key", "", "header name of the caption column of a captions file (default title; headerless files: the second column)")
	fs.StringVar(&o.Difficulty, "difficulty", "default", "synthetic dataset difficulty: easy, default, hard")
	fs.StringVar(&o.Tokenizer, "tokenizer", "auto", "auto (with --init: the tokenizer stored in or beside it, else CLIP's; BPE learnt from the synthetic captions; CLIP's otherwise), clip, or a merges file")
	fs.IntVar(&o.VocabMerges, "merges", 150, "BPE merges to learn with --tokenizer auto")
	fs.IntVar(&o.Steps, "steps", 4600, "optimizer steps")
	fs.IntVar(&o.BatchSize, "batch", 64, "batch size")
	fs.Float64Var(&o.LR, "lr", 2e-3, "peak learning rate")
	fs.Float64Var(&o.MinLR, "min-lr", 0, "final learning rate (default lr/50)")
	fs.IntVar(&o.Warmup, "warmup", 0, "warmup steps (default steps/20; --warmup 0: none)")
	fs.StringVar(&o.Schedule, "schedule", "cosine", "learning-rate schedule: cosine, linear, constant")
	fs.StringVar(&o.Optimizer, "optimizer", "adamw", "adamw, adafactor or sgd")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0.05, "decoupled weight decay")
	fs.Float64Var(&o.ClipNorm, "clip", 1, "global gradient-norm clip (0 or negative: off)")
	fs.Float64Var(&o.ContrastiveWeight, "contrastive-weight", 1, "weight of the contrastive loss (0: caption-only, as open_clip's --coca-contrastive-loss-weight 0)")
	fs.Float64Var(&o.ContrastiveWeight, "coca-contrastive-loss-weight", 1, "open_clip's name for --contrastive-weight")
	fs.Float64Var(&o.CaptionWeight, "caption-weight", 2, "weight of the caption loss")
	fs.Float64Var(&o.CaptionWeight, "coca-caption-loss-weight", 2, "open_clip's name for --caption-weight")
	fs.StringVar(&o.Precision, "precision", "auto", trainPrecisionUsage)
	fs.Uint64Var(&o.Seed, "seed", 0, "random seed (a run is reproducible for a given seed and thread count)")
	fs.StringVar(&o.Init, "init", "", "start from these model weights to fine-tune: a .safetensors or PyTorch (.bin/.pt) file, a coca train run directory, or a Hugging Face hub snapshot folder")
	pretrained := fs.String("pretrained", "", "start from one of open_clip's published CoCa weights, read from the Hugging Face cache ($HF_HOME/hub) without network access: laion2b_s13b_b90k or mscoco_finetuned_laion2b_s13b_b90k with --config coca_ViT-B-32 or coca_ViT-L-14, or MODEL:TAG (as open_clip's --model and --pretrained)")
	fs.IntVar(&o.LogEvery, "log-every", 10, "steps between metric lines")
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "steps between evaluations (default steps/4; --eval-every 0: none)")
	fs.IntVar(&o.SaveEvery, "save-every", 250, "steps between checkpoints")
	fs.IntVar(&o.Samples, "samples", 16, "held-out images shown with their captions in samples.txt, samples/ and report.html")
	aliases := map[string]string{"coca-contrastive-loss-weight": "contrastive-weight", "coca-caption-loss-weight": "caption-weight"}
	// Flags that are not run settings.
	fs.StringVar(&o.Out, "out", "runs/coca", "run directory: run.json, metrics.jsonl, report.html, loss.png, metrics.png, samples/, checkpoints, model.safetensors")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its last checkpoint, with the settings it was started with (a flag that changes one is refused)")
	fs.BoolVar(&o.Force, "force", false, "start a fresh run in an --out that holds one, deleting its checkpoints, model and metrics")
	fs.BoolVar(&o.SkipBad, "skip-bad", false, "skip unreadable items (counted and reported) instead of stopping")
	fs.IntVar(&o.StopAt, "stop-at", 0, "stop after a checkpoint at this step (continue later with --resume)")
	fs.IntVar(&o.Workers, "workers", 0, "data-loading goroutines (default GOMAXPROCS; with several --ranks the ranks load their own batches while they wait for each other, and these serve evaluation)")
	fs.IntVar(&o.Ranks, "ranks", 0, "data-parallel ranks inside this process, each on its share of the cores and of --batch (the run's numbers change by float rounding only): 0 picks GOMAXPROCS ranks (fewer when the batch does not divide, at least 8 items each) for models at most 256 wide on the CPU, whose matrix products are too small to share well between cores, else 1; 1: off")
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
	explicit, err := explicitSettings(fs, aliases)
	if err != nil {
		return err
	}
	o.Explicit = explicit
	if *pretrained != "" {
		if o.Init != "" {
			return usagef("--init and --pretrained both name the starting weights: give one")
		}
		p, err := coca.LookupPretrained(o.Config, *pretrained)
		if err != nil {
			return err
		}
		if o.Init, err = p.Path(""); err != nil {
			return err
		}
		if o.Config == "" {
			o.Config = p.Model
		}
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
	if o.Precision != "" { // given: a resumed run's own is checked by train.Run
		if err := checkPrecision(o.Precision, *device, true); err != nil {
			return err
		}
	}
	if err := useDevice(*device, stderr); err != nil {
		return err
	}
	notePrecision(o.Precision, stderr)
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
	ctx, stop := interruptContext()
	defer stop()
	res, err := train.Run(ctx, o)
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
		if strings.Contains(strings.TrimSpace(err.Error()), "\n") {
			return errors.New(summarizeLoadError(err)) // a load's lists of tensors, on one line
		}
		return err
	}
	took := fmt.Sprintf("%d steps in %s", res.Steps, res.Elapsed.Round(1e9))
	switch {
	case res.Start > 0 && res.Start < res.Steps:
		took = fmt.Sprintf("%d steps (%d–%d resumed, in %s)", res.Steps, res.Start+1, res.Steps, res.Elapsed.Round(1e9))
	case res.Start > 0:
		took = fmt.Sprintf("%d steps (none left after the checkpoint; the final files written in %s)", res.Steps, res.Elapsed.Round(1e9))
	}
	switch f := res.Final; {
	case res.Stopped, res.Finished:
	case f != nil:
		fmt.Fprintf(stdout, "done: %s; %s (%s)\n", took, f.Summary(), o.Out)
	default:
		fmt.Fprintf(stdout, "done: %s; no evaluation (%s) (%s)\n", took, res.NoEval, o.Out)
	}
	if report := filepath.Join(o.Out, "report.html"); isFile(report) {
		fmt.Fprintf(stdout, "report: %s\n", report)
	}
	return nil
}

// explicitSettings returns the run settings given on the command line
// (aliases counted under their flag's name) and resets the others to their
// zero value, which train.Options reads as "default, or on --resume the
// run's own".
func explicitSettings(fs *flag.FlagSet, aliases map[string]string) (map[string]bool, error) {
	settings := map[string]bool{}
	for _, n := range train.SettingNames() {
		settings[n] = true
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		if a, ok := aliases[name]; ok {
			name = a
		}
		if settings[name] {
			given[name] = true
		}
	})
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := f.Name
		if a, ok := aliases[name]; ok {
			name = a
		}
		if !settings[name] || given[name] {
			return
		}
		zero := "0"
		switch f.Value.(flag.Getter).Get().(type) {
		case string:
			zero = ""
		case bool:
			zero = "false"
		}
		if e := f.Value.Set(zero); e != nil && err == nil {
			err = fmt.Errorf("--%s: %w", f.Name, e)
		}
	})
	return given, err
}

// interruptContext is cancelled by the first SIGINT or SIGTERM (the run
// then stops after writing a checkpoint); a second one ends the process.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(fmt.Errorf("interrupted by %v", sig))
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
