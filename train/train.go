// Package train trains CoCa: the built-in synthetic dataset or captioned
// image files, AdamW/Adafactor/SGD with a warmup schedule, periodic
// evaluation (retrieval, zero-shot, exact-match captions), metrics, curves
// and an HTML report, and atomic checkpoints with exact resume. It is what
// `coca train` runs (Run), and what `coca probe` runs (TrainProbe).
//
// A run directory is never destroyed by accident: a fresh run refuses one
// that holds a run unless Options.Force is set, nothing is written before
// every input has been checked, and a resumed run keeps the settings it was
// started with (run.json). Parameters are checked finite after every update
// and before every save, so every checkpoint resumes.
package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// Options configure a run. The zero value of a field means its default,
// unless the field is named in Explicit: then its zero is meant (a warmup of
// 0 steps, a loss weight of 0, weight decay 0, ...).
//
// A resumed run (Resume) takes its settings from the run.json its directory
// recorded when it started: an option left unset is restored from there,
// and one set to a value other than the recorded one is refused with both
// values named, so a resumed run ends exactly where the uninterrupted run
// would have (see SettingNames for the recorded options).
type Options struct {
	Out    string // run directory (default "runs/coca")
	Config string // built-in config name or open_clip JSON file (default "coca_shapes"; with Init, the config stored in it)

	// Data: "synthetic" (default), a captions file (.tsv/.csv: image path and
	// caption columns), a COCO captions .json (images under ImageRoot,
	// default the annotation file's directory), or webdataset .tar shards
	// (brace patterns, several joined by "::" or commas): data.OpenDataset's
	// rules.
	//
	// Evaluation uses ValData when set. Otherwise a file dataset holds out
	// its last HeldOut pairs (default min(512, N/10): none under 10 pairs,
	// and then no evaluation) and trains on the rest; the synthetic dataset
	// evaluates on its own held-out and zero-shot splits (HeldOut pairs each,
	// default 512).
	Data       string
	ValData    string
	ImageRoot  string // image directory for COCO
	Difficulty string // synthetic difficulty: easy, default, hard
	SkipBad    bool   // skip unreadable items (counted) instead of failing

	// Captions files: the separator (one character, or "\t", "tab", "comma";
	// default: see data.TSVOptions.Sep) and the header names of the image and
	// caption columns (open_clip's --csv-separator, --csv-img-key,
	// --csv-caption-key).
	CSVSeparator, CSVImageKey, CSVCaptionKey string

	// Tokenizer: "auto" (default: with Init, the tokenizer stored in or
	// beside it, else CLIP's; for the synthetic data, BPE merges learnt from
	// its training captions; CLIP's BPE otherwise), "clip", or a merges file.
	// VocabMerges is the number of merges "auto" learns (default 150).
	Tokenizer   string
	VocabMerges int

	Steps       int     // optimizer steps (default 4600)
	BatchSize   int     // default 64
	LR          float64 // peak learning rate (default 2e-3)
	MinLR       float64 // final learning rate of the cosine schedule (default LR/50)
	Warmup      int     // warmup steps (default Steps/20)
	Schedule    string  // cosine (default), linear, constant
	Optimizer   string  // adamw (default), adafactor, sgd
	WeightDecay float64 // default 0.05
	ClipNorm    float64 // global gradient-norm clip (default 1; explicit 0 or <0 disables)

	ContrastiveWeight float64 // default 1
	CaptionWeight     float64 // default 2

	// Precision of the model's matrix products: "f32", "bf16"
	// (coca.Model.SetPrecision: bfloat16 products with float32 sums in the
	// forward and backward passes and the evaluations; float32 master
	// weights, gradients and optimizer state), or "auto" (the default):
	// bf16 where the products run on AVX512_BF16 (asm.HasBF16, on a
	// backend with bfloat16 products: the CPU's), else f32, as open_clip's
	// training takes mixed precision by default. The resolved value is
	// recorded in run.json; a resumed run keeps it (runs recorded without
	// it are f32); auto on --resume takes the run's. bf16 needs a backend
	// with bfloat16 products; without AVX512_BF16 its products are the
	// same but no faster.
	Precision string

	Seed      uint64
	Resume    bool   // continue the run in Out from its checkpoint, with its recorded settings
	Force     bool   // start afresh in an Out that holds a run, deleting that run's files
	Init      string // start from these model weights (.safetensors, or open_clip's .bin/.pt) to fine-tune
	LogEvery  int    // steps between metric lines (default 10)
	EvalEvery int    // steps between evaluations (default Steps/4; explicit 0 or negative: never)
	HeldOut   int    // pairs held out for evaluation (see Data)
	StopAt    int    // stop (after a checkpoint) at this step, to resume later; 0: run to Steps
	SaveEvery int    // steps between checkpoints (default 250)
	Workers   int    // data workers (default GOMAXPROCS; with Ranks > 1, the ranks load their own batches and these serve evaluation)

	// Ranks is the number of data-parallel ranks inside this process
	// (local.go): goroutines that each train on their share of the cores
	// and of the batch, meeting five times a step (the run's numbers
	// change by float rounding only). 0 picks: on the CPU without
	// Parallel.Comm, GOMAXPROCS ranks (fewer when the batch does not
	// divide, at least 8 items each) for models at most 256 wide, whose
	// matrix products are too small to share well between cores; 1 for
	// others. 1 trains on the calling goroutine. While several ranks
	// train, every parallel region of the process uses its share of the
	// cores (asm.SideBySide): other goroutines' computations slow down,
	// their results do not change.
	Ranks   int
	Samples int // held-out captions written to samples.txt and the report (default 16)

	// Explicit names the options whose value is meant even when it is zero,
	// by coca train's flag names (SettingNames); the command passes every
	// flag given on its command line.
	Explicit map[string]bool

	// OnStep, when set, is called after every step (and its evaluation,
	// if one was due) with the step's figures (on Ranks > 1, by rank 0's
	// goroutine only, with its model). The model must not be changed.
	// An error stops the run after a checkpoint of that step, and Run
	// returns it.
	OnStep func(StepInfo) error

	Parallel Parallel // data-parallel training over several ranks (dist.go)

	// Progress receives the progress bar (default os.Stderr); Log receives
	// summary lines (default os.Stdout).
	Progress io.Writer
	Log      io.Writer

	precisionAuto bool // defaults resolved Precision from auto
}

// StepInfo is what OnStep sees after a step.
type StepInfo struct {
	Step, Steps int     // steps done, and the run's total
	Loss        float64 // this step's weighted total loss
	Contrastive float64 // weighted contrastive loss
	Caption     float64 // weighted caption loss
	LR          float64 // the learning rate of the step
	Elapsed     time.Duration
	Eval        *Metrics    // the evaluation of this step, when one was due
	Model       *coca.Model // read only
}

// defaults fills the unset options and checks the set ones.
func (o *Options) defaults() error {
	set := o.isSet
	defInt := func(name string, p *int, v int) {
		if !set(name) {
			*p = v
		}
	}
	defFloat := func(name string, p *float64, v float64) {
		if !set(name) {
			*p = v
		}
	}
	defStr := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defStr(&o.Config, "coca_shapes")
	defStr(&o.Data, "synthetic")
	defStr(&o.Difficulty, "default")
	defStr(&o.Tokenizer, "auto")
	defStr(&o.Schedule, "cosine")
	defStr(&o.Optimizer, "adamw")
	defStr(&o.Precision, "auto")
	o.precisionAuto = o.Precision == "auto"
	o.Precision = resolvePrecision(o.Precision)
	defInt("merges", &o.VocabMerges, 150)
	defInt("steps", &o.Steps, 4600)
	defInt("batch", &o.BatchSize, 64)
	defFloat("lr", &o.LR, 2e-3)
	defFloat("min-lr", &o.MinLR, o.LR/50)
	defInt("warmup", &o.Warmup, max(o.Steps/20, 1))
	defFloat("weight-decay", &o.WeightDecay, 0.05)
	defFloat("clip", &o.ClipNorm, 1)
	defFloat("contrastive-weight", &o.ContrastiveWeight, 1)
	defFloat("caption-weight", &o.CaptionWeight, 2)
	defInt("log-every", &o.LogEvery, 10)
	defInt("eval-every", &o.EvalEvery, max(o.Steps/4, 1))
	defInt("save-every", &o.SaveEvery, 250)
	defInt("samples", &o.Samples, 16)
	if o.Data == "synthetic" {
		defInt("held-out", &o.HeldOut, 512)
	}
	positive := []struct {
		name string
		v    int
	}{{"steps", o.Steps}, {"batch", o.BatchSize}, {"log-every", o.LogEvery}, {"save-every", o.SaveEvery}, {"merges", o.VocabMerges}}
	for _, p := range positive {
		if p.v < 1 {
			return fmt.Errorf("train: --%s %d: want at least 1", p.name, p.v)
		}
	}
	nonNegInt := []struct {
		name string
		v    int
	}{{"warmup", o.Warmup}, {"held-out", o.HeldOut}, {"samples", o.Samples}, {"stop-at", o.StopAt}}
	for _, p := range nonNegInt {
		if p.v < 0 {
			return fmt.Errorf("train: --%s %d: want 0 or more", p.name, p.v)
		}
	}
	nonNeg := []struct {
		name string
		v    float64
	}{{"lr", o.LR}, {"min-lr", o.MinLR}, {"weight-decay", o.WeightDecay}, {"contrastive-weight", o.ContrastiveWeight}, {"caption-weight", o.CaptionWeight}}
	for _, p := range nonNeg {
		if !(p.v >= 0) || math.IsInf(p.v, 0) {
			return fmt.Errorf("train: --%s %v: want a finite value, 0 or more", p.name, p.v)
		}
	}
	if _, err := tensor.ParsePrecision(o.Precision); err != nil {
		return fmt.Errorf("train: --precision %q: want auto, f32 or bf16", o.Precision)
	}
	if o.ContrastiveWeight == 0 && o.CaptionWeight == 0 {
		return errors.New("train: --contrastive-weight and --caption-weight are both 0: nothing to train")
	}
	if o.CSVSeparator != "" {
		if _, err := data.ParseSeparator(o.CSVSeparator); err != nil {
			return fmt.Errorf("train: --csv-separator: %w", err)
		}
	}
	return nil
}

// Result summarises a finished run.
type Result struct {
	Steps   int
	Final   *Metrics // the last evaluation, or nil when the run had none
	NoEval  string   // why the run has no evaluation, when it has none
	Stopped bool     // stopped at StopAt, before its last step
	// Finished: Resume found the run finished (its final model and a
	// checkpoint of its last step) and did nothing.
	Finished bool
	Start    int           // the step it began at: 0, or the checkpoint's step when resumed
	Elapsed  time.Duration // the time it took (in this call, not the earlier sessions of a resumed run)
}

// afterUpdate, when set (tests), runs right after each optimizer update,
// before the parameters are checked.
var afterUpdate func(step int, m *coca.Model)

// run holds everything one training run uses.
type run struct {
	finished  bool          // resuming a finished run: nothing to do
	before    time.Duration // time a resumed run spent before its checkpoint (metrics.jsonl's elapsed_s)
	ctx       context.Context
	savedAt   int // the last step checkpointed (in-process ranks: see saveOnStop)
	o         Options
	cfg       *coca.Config
	model     *coca.Model
	tok       *tokenizer.Tokenizer
	merges    string   // learnt merges file text ("" for CLIP's)
	captions  []string // sample of training captions (tokenizer, context length)
	train     data.Dataset
	held, zs  *evalSet
	heldNote  string // why there is no held-out set
	classes   []string
	loader    *data.Loader
	opt       optim.Optimizer
	sched     optim.Schedule
	params    []*tensor.Tensor
	metrics   *os.File
	curve     []curvePoint
	evals     []evalPoint
	start     checkpointInfo // where the loop starts (resume)
	logWindow logWindow      // loss sums since the last metrics line
	dirState  dirState
	dp        *dataParallel // nil in a single process
	guard     updateGuard
}

// Run trains a model as o says and returns the final evaluation. It checks
// every input (settings, data, tokenizer, config, --init weights, the
// checkpoint to resume) before it writes anything in o.Out, and never starts
// a fresh run over an existing one unless o.Force is set.
//
// Cancelling ctx stops the run at the next step boundary; a run in a single
// process then writes a checkpoint of that step first, so that Resume
// continues it. Run returns the context's error.
func Run(ctx context.Context, o Options) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	n, err := o.ranks()
	if err != nil {
		return nil, err
	}
	if n > 1 {
		return runInProcess(ctx, o, n)
	}
	return runOne(ctx, o)
}

// resolvePrecision returns the precision "auto" stands for here: bf16
// where the current backend takes bfloat16 products and the CPU runs them
// on AVX512_BF16, else f32. Other values are returned as they are.
func resolvePrecision(p string) string {
	if p != "auto" {
		return p
	}
	if asm.HasBF16() && tensor.CheckPrecision(tensor.PrecisionBF16) == nil {
		return "bf16"
	}
	return "f32"
}

// runOne trains on this goroutine: alone, or as one rank of o.Parallel.
func runOne(ctx context.Context, o Options) (*Result, error) {
	if o.Out == "" {
		o.Out = filepath.Join("runs", "coca")
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	o.Explicit = maps.Clone(o.Explicit)
	if o.Explicit == nil {
		o.Explicit = map[string]bool{}
	}
	r := &run{ctx: ctx, o: o}
	defer r.closeParallel()
	if err := r.setupParallel(); err != nil {
		return nil, err
	}
	if err := r.setup(); err != nil {
		return nil, err
	}
	if r.finished {
		fmt.Fprintf(r.o.Log, "%s holds a finished run (step %d of %d): nothing to do\n", r.o.Out, r.o.Steps, r.o.Steps)
		return &Result{Steps: r.o.Steps, Start: r.o.Steps, Finished: true}, nil
	}
	defer r.metrics.Close()
	res, err := r.loop()
	if err == nil {
		err = r.endParallel()
	}
	return res, err
}

// setup checks every input and builds the run; only its last stage,
// commit, writes to the run directory.
func (r *run) setup() error {
	o := &r.o
	if o.Resume && o.Force {
		return errors.New("train: --resume and --force: choose one (--resume continues the run; --force deletes it and starts over)")
	}
	if err := o.checkExplicit(); err != nil {
		return err
	}
	if err := o.normalizePaths(); err != nil {
		return err
	}
	if r.isRoot() {
		st, err := inspectRunDir(o.Out)
		if err != nil {
			return err
		}
		r.dirState = st
		switch {
		case o.Resume && !st.holdsRun:
			return fmt.Errorf("train: --resume: %s holds no run to continue (no %s)", o.Out, checkpointFile)
		case o.Resume && st.ckptErr != nil:
			return st.ckptErr
		case o.Resume && !st.hasCkpt:
			return fmt.Errorf("train: --resume: the run in %s has no checkpoint yet (it stopped before its first); start it over with --force", o.Out)
		case !o.Resume && st.holdsRun && !o.Force:
			return fmt.Errorf("train: %s already holds %s: continue it with --resume (coca train --out %s --resume takes its own settings), or pass --force to delete it and start over",
				o.Out, st.describe(), o.Out)
		}
	}
	if o.Precision == "auto" && o.Resume {
		// auto names no precision of its own: a resumed run keeps its.
		o.Precision = ""
		delete(o.Explicit, "precision")
	}
	if o.Resume {
		rec, ok, err := readRunSettings(o.Out)
		if err != nil {
			return err
		}
		if ok {
			if err := o.restore(rec, filepath.Join(o.Out, runFile), r.worldSize()); err != nil {
				return err
			}
		} else {
			if !o.isSet("seed") && r.dirState.hasCkpt {
				o.Seed = r.dirState.ckpt.Seed
			}
			if !o.isSet("precision") {
				o.Precision = "f32" // such runs predate --precision
			}
			fmt.Fprintf(o.Log, "%s has no %s (a run of an earlier version): its settings come from the flags and defaults (float32 products unless --precision names bf16), the seed from %s\n", o.Out, runFile, checkpointFile)
		}
	}
	configGiven := o.isSet("config")
	if err := o.defaults(); err != nil {
		return err
	}
	if st := &r.dirState; o.Resume && r.worldSize() == 1 && st.model && st.hasCkpt && st.ckpt.Step == o.Steps {
		r.finished = true // nothing to do, and nothing is written
		return nil
	}
	var init *initFile
	if o.Init != "" && !o.Resume {
		var err error
		if init, err = inspectInit(o.Init); err != nil {
			return err
		}
		defer init.close()
	}
	if err := r.setupConfig(configGiven, init); err != nil {
		return err
	}
	if err := r.setupData(); err != nil {
		return err
	}
	if err := r.setupTokenizer(init); err != nil {
		return err
	}
	r.model = coca.New(r.cfg)
	if init == nil {
		r.model.Init(o.Seed)
	} else {
		if err := init.load(r.model); err != nil {
			return err
		}
		if bad, total, first := paramsFinite(r.model); bad > 0 {
			return fmt.Errorf("train: --init %s: %d of %d parameter values are not finite (first in %s)", o.Init, bad, total, first)
		}
	}
	prec, err := tensor.ParsePrecision(o.Precision)
	if err != nil {
		return fmt.Errorf("train: --%w", err)
	}
	if err := r.model.SetPrecision(prec); err != nil {
		return fmt.Errorf("train: --precision %s: %w", o.Precision, err)
	}
	for _, p := range r.model.Params() {
		r.params = append(r.params, p.Tensor)
	}
	if r.opt, err = newOptimizer(o, r.params); err != nil {
		return err
	}
	switch o.Schedule {
	case "cosine":
		r.sched, err = optim.NewWarmupCosine(o.LR, o.MinLR, o.Warmup, o.Steps)
	case "linear":
		r.sched, err = optim.NewWarmupLinear(o.LR, o.MinLR, o.Warmup, o.Steps)
	case "constant":
		r.sched, err = optim.NewConstant(o.LR, o.Warmup)
	default:
		return fmt.Errorf("train: unknown schedule %q (want cosine, linear or constant)", o.Schedule)
	}
	if err != nil {
		return err
	}
	r.loader, err = data.NewLoader(r.train, data.LoaderConfig{BatchSize: o.BatchSize, ImageSize: r.cfg.Vision.ImageSize,
		Workers: o.Workers, Seed: o.Seed, Shuffle: true, SkipBad: o.SkipBad})
	if err != nil {
		return err
	}
	if err := r.shardData(); err != nil {
		return err
	}
	if r.loader.BatchesPerEpoch() == 0 {
		batch := fmt.Sprint(o.BatchSize)
		if d := r.dp; d != nil {
			batch = fmt.Sprintf("%d (%d ranks × %d)", d.size*o.BatchSize, d.size, o.BatchSize)
		}
		return fmt.Errorf("train: %s has %d training pairs, fewer than one batch of %s", o.Data, r.train.Len(), batch)
	}
	if o.Resume {
		info, err := r.loadCheckpoint()
		if err != nil {
			return err
		}
		if bad, total, first := paramsFinite(r.model); bad > 0 {
			return fmt.Errorf("train: --resume: %s: %d of %d parameter values are not finite (first in %s)", filepath.Join(o.Out, info.Model), bad, total, first)
		}
		if info.Step > o.Steps {
			return fmt.Errorf("train: --resume: the checkpoint in %s is at step %d, past the run's %d steps", o.Out, info.Step, o.Steps)
		}
		r.start = info
	}
	return r.commit()
}

// commit writes the run's files once every input has been checked: on a
// fresh run (after removing an old one under --force) run.json, config.json,
// tokenizer.txt and an empty metrics.jsonl; on resume it removes crash
// leftovers and the metrics past the checkpoint.
func (r *run) commit() error {
	o := &r.o
	if o.Force && r.dirState.holdsRun && r.isRoot() {
		if err := removeRun(o.Out); err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "--force: removed the run in %s\n", o.Out)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	metricsPath := filepath.Join(o.Out, "metrics.jsonl")
	if o.Resume {
		if r.isRoot() {
			removed, err := cleanStale(o.Out, &r.start)
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				fmt.Fprintf(o.Log, "removed %d leftover file(s) of an interrupted save: %s\n", len(removed), strings.Join(removed, ", "))
			}
		}
		kept, err := truncateMetrics(metricsPath, r.start.Step)
		if err != nil {
			return err
		}
		r.history(kept)
		if _, ok, _ := readRunSettings(o.Out); !ok {
			if err := writeFileAtomic(filepath.Join(o.Out, runFile), o.recordSettings(r.worldSize())); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		}
	} else {
		if err := writeFileAtomic(filepath.Join(o.Out, runFile), o.recordSettings(r.worldSize())); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(o.Out, "config.json"), r.cfg.JSON()); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if r.merges != "" {
			if err := writeFileAtomic(filepath.Join(o.Out, "tokenizer.txt"), []byte(r.merges)); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		}
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.Resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	var err error
	r.metrics, err = os.OpenFile(metricsPath, flags, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// history rebuilds the loss curve and evaluations of a resumed run from the
// metrics it keeps.
func (r *run) history(lines []metricLine) {
	for _, l := range lines {
		if l.Loss != nil {
			r.curve = append(r.curve, curvePoint{l.Step, *l.Loss, l.Contrastive, l.Caption})
			r.before = time.Duration(l.Elapsed * float64(time.Second))
		} else {
			m := l.Metrics
			r.evals = append(r.evals, evalPoint{l.Step, m})
		}
	}
}

// setupConfig resolves the model config: on resume the run's config.json;
// with --init and no --config, the config stored in the init file.
func (r *run) setupConfig(configGiven bool, init *initFile) error {
	o := &r.o
	if o.Resume {
		if c, err := coca.LoadConfig(filepath.Join(o.Out, "config.json")); err == nil {
			r.cfg = c
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if init != nil && !configGiven {
		if init.config == nil {
			return fmt.Errorf("train: --init %s: no model config (%v): pass --config (a built-in name such as coca_ViT-B-32, or an open_clip model-config JSON file)", o.Init, init.configErr)
		}
		r.cfg = init.config
		o.Config = o.Init
		fmt.Fprintf(o.Log, "config: %s\n", init.configFrom)
		return nil
	}
	cfg, err := coca.ResolveConfig(o.Config)
	if err != nil {
		return err
	}
	r.cfg = cfg
	return nil
}

// openDataset opens a file dataset with the run's captions-file options.
func (r *run) openDataset(path string) (data.Dataset, error) {
	o := &r.o
	var sep rune
	if o.CSVSeparator != "" {
		sep, _ = data.ParseSeparator(o.CSVSeparator) // checked in defaults
	}
	return data.OpenDataset(path, data.OpenOptions{ImageRoot: o.ImageRoot, Sep: sep, ImageKey: o.CSVImageKey,
		CaptionKey: o.CSVCaptionKey, SkipBad: o.SkipBad})
}

func (r *run) setupData() error {
	o := &r.o
	size := r.cfg.Vision.ImageSize
	var val data.Dataset
	if o.ValData != "" {
		var err error
		if val, err = r.openDataset(o.ValData); err != nil {
			return err
		}
		if o.HeldOut > 0 && o.HeldOut < val.Len() {
			val = &subset{val, 0, o.HeldOut}
		}
		o.HeldOut = val.Len()
		if r.held, err = newEvalSet(val, size, nil, o); err != nil {
			return err
		}
	}
	if o.Data == "synthetic" {
		d, err := data.ParseDifficulty(o.Difficulty)
		if err != nil {
			return err
		}
		n := max(o.HeldOut, 1)
		s, err := data.NewSynth(data.SynthConfig{Difficulty: d, ImageSize: size, Seed: o.Seed, HeldOutSize: n, ZeroShotSize: n})
		if err != nil {
			return err
		}
		r.train = s.Train()
		if o.HeldOut == 0 {
			r.heldNote = "--held-out 0"
			return nil
		}
		if val == nil {
			if r.held, err = newEvalSet(s.HeldOut(), size, nil, o); err != nil {
				return err
			}
		}
		zs := s.ZeroShot()
		if r.zs, err = newEvalSet(zs, size, zs.Labels(), o); err != nil {
			return err
		}
		r.classes = s.Classes()
		return nil
	}
	ds, err := r.openDataset(o.Data)
	if err != nil {
		return err
	}
	if val != nil {
		r.train = ds
		return nil
	}
	return r.splitFiles(ds)
}

// splitFiles holds out the last HeldOut pairs of a file dataset for
// evaluation (default min(512, N/10): none under 10 pairs).
func (r *run) splitFiles(ds data.Dataset) error {
	o := &r.o
	n := ds.Len()
	h := o.HeldOut
	if !o.isSet("held-out") {
		h = min(512, n/10)
	}
	if h >= n {
		return fmt.Errorf("train: --held-out %d leaves no training pairs of the %d in %s", h, n, o.Data)
	}
	o.HeldOut = h
	if h == 0 {
		r.train = ds
		if o.isSet("held-out") {
			r.heldNote = "--held-out 0"
		} else {
			r.heldNote = fmt.Sprintf("%s has %d pairs, fewer than 10, so none are held out; pass --val-data", o.Data, n)
		}
		return nil
	}
	r.train = &subset{ds, 0, n - h}
	var err error
	r.held, err = newEvalSet(&subset{ds, n - h, n}, r.cfg.Vision.ImageSize, nil, o)
	return err
}

type subset struct {
	ds     data.Dataset
	lo, hi int
}

func (s *subset) Len() int { return s.hi - s.lo }
func (s *subset) Item(i int) (img image.Image, caption string, err error) {
	return s.ds.Item(s.lo + i)
}

// setupTokenizer picks the tokenizer and fits the config to it.
func (r *run) setupTokenizer(init *initFile) error {
	o := &r.o
	if o.Resume {
		path := filepath.Join(o.Out, "tokenizer.txt")
		if b, err := os.ReadFile(path); err == nil {
			return r.useMerges(b, path)
		}
		if o.Tokenizer == "auto" && o.Data == "synthetic" {
			return fmt.Errorf("train: --resume: %s is missing (the run's learnt tokenizer)", path)
		}
	}
	switch {
	case o.Tokenizer == "auto" && init != nil:
		if init.merges != nil {
			return r.useMerges(init.merges, init.mergesFrom)
		}
		r.tok = tokenizer.New()
	case o.Tokenizer == "clip" || (o.Tokenizer == "auto" && o.Data != "synthetic"):
		r.tok = tokenizer.New()
	case o.Tokenizer == "auto":
		// Learn merges from the training captions.
		caps, err := r.sampleCaptions()
		if err != nil {
			return err
		}
		var corpus bytes.Buffer
		for _, c := range caps {
			corpus.WriteString(c)
			corpus.WriteByte('\n')
		}
		// A small caption language may run out of pairs before the asked
		// number of merges: then take as many as it has.
		var m *tokenizer.Merges
		for n := o.VocabMerges; ; n = n * 3 / 4 {
			m, err = tokenizer.Train(bytes.NewReader(corpus.Bytes()), 512+n+2)
			if err == nil || n < 8 {
				break
			}
		}
		if err != nil {
			return err
		}
		return r.useMerges([]byte(m.String()), "learnt merges")
	default:
		b, err := os.ReadFile(o.Tokenizer)
		if err != nil {
			return fmt.Errorf("train: tokenizer: %w", err)
		}
		return r.useMerges(b, o.Tokenizer)
	}
	return r.fitVocab()
}

func (r *run) useMerges(b []byte, name string) error {
	t, err := tokenizer.LoadMerges(bytes.NewReader(b), 0)
	if err != nil {
		return fmt.Errorf("train: tokenizer %s: %w", name, err)
	}
	r.tok, r.merges = t, string(b)
	return r.fitVocab()
}

// fitVocab sizes a built-in config's vocabulary to the tokenizer's and,
// without --init, shortens its context to the longest tokenized training
// caption. A resumed run's config and a config file must already agree.
func (r *run) fitVocab() error {
	v := r.tok.VocabSize()
	_, builtinErr := coca.Builtin(r.o.Config)
	builtin := builtinErr == nil && !r.o.Resume
	fit := builtin && r.o.Init == ""
	if r.cfg.Text.VocabSize != v || r.cfg.Multimodal.VocabSize != v {
		if !builtin {
			what := "config " + r.o.Config
			switch {
			case r.o.Resume:
				what = "the run's config.json"
			case r.o.Init != "":
				what = fmt.Sprintf("config %s (of --init %s)", r.o.Config, r.o.Init)
			}
			return fmt.Errorf("train: %s: vocab_size %d does not match the tokenizer's %d (pass --tokenizer with the merges the model was trained with)", what, r.cfg.Text.VocabSize, v)
		}
		r.cfg.Text.VocabSize, r.cfg.Multimodal.VocabSize = v, v
	}
	if fit {
		caps, err := r.sampleCaptions()
		if err != nil {
			return err
		}
		longest := 0
		for _, c := range caps {
			longest = max(longest, len(r.tok.Encode(c))+2)
		}
		if longest < r.cfg.Text.ContextLength {
			r.cfg.Text.ContextLength, r.cfg.Multimodal.ContextLength = longest, longest
		}
	}
	return r.cfg.Validate()
}

// sampleCaptions returns up to 20,000 training captions (without loading
// images when the dataset can give captions alone).
func (r *run) sampleCaptions() ([]string, error) {
	if r.captions != nil {
		return r.captions, nil
	}
	n := min(r.train.Len(), 20000)
	caps := make([]string, 0, n)
	cd, ok := r.train.(interface{ Caption(int) string })
	if s, isSub := r.train.(*subset); isSub {
		if c, ok2 := s.ds.(interface{ Caption(int) string }); ok2 {
			cd, ok = captionAt(func(i int) string { return c.Caption(s.lo + i) }), true
		}
	}
	for i := 0; i < n; i++ {
		if ok {
			caps = append(caps, cd.Caption(i))
			continue
		}
		_, c, err := r.train.Item(i)
		if err != nil {
			if r.o.SkipBad {
				continue
			}
			return nil, err
		}
		caps = append(caps, c)
	}
	r.captions = caps
	return caps, nil
}

type captionAt func(int) string

func (f captionAt) Caption(i int) string { return f(i) }

// tokenize turns captions into (B, ctx) ids.
func (r *run) tokenize(captions []string, ctx int) []int {
	ids := make([]int, 0, len(captions)*ctx)
	for _, c := range captions {
		ids = append(ids, r.tok.Tokenize(c, ctx)...)
	}
	return ids
}

type stepLog struct {
	Step        int     `json:"step"`
	Loss        float64 `json:"loss"`
	Contrastive float64 `json:"contrastive_loss"`
	Caption     float64 `json:"caption_loss"`
	LR          float64 `json:"lr"`
	LogitScale  float64 `json:"logit_scale"`
	ImagesPerS  float64 `json:"images_per_s"`
	Elapsed     float64 `json:"elapsed_s"`
}

type evalLog struct {
	Step int `json:"step"`
	Metrics
}

func (r *run) writeJSON(v any) {
	b, _ := json.Marshal(v)
	r.metrics.Write(append(b, '\n'))
}

// stopped is the error of a run stopped by its context or OnStep.
func (r *run) stopped(step int, cause error, saved bool) error {
	how := "no checkpoint of it was written"
	switch {
	case saved:
		how = "its checkpoint is written: continue with --resume"
	case r.dp != nil && !r.inProcess():
		how = "data-parallel ranks stop without a checkpoint"
	}
	return fmt.Errorf("train: stopped at step %d (%s): %w", step, how, cause)
}

func (r *run) loop() (*Result, error) {
	o := &r.o
	start, epoch, pos := r.start.Step, r.start.Epoch, r.start.Position
	r.savedAt = start // a resumed run's checkpoint (0: none)
	if o.Resume {
		fmt.Fprintf(o.Log, "resuming %s at step %d of %d\n", o.Out, start, o.Steps)
	} else {
		prec := ""
		if o.Precision != "f32" {
			prec = ", " + o.Precision + " products"
			if o.precisionAuto {
				prec += " (--precision auto on a CPU with AVX512_BF16; --precision f32 for float32)"
			}
		}
		batch := r.batchText()
		fmt.Fprintf(o.Log, "training %s (%.2f M parameters, vocabulary %d) on %s for %d steps of %s%s, %d threads → %s\n",
			o.Config, float64(r.model.NumParams())/1e6, r.tok.VocabSize(), o.Data, o.Steps, batch, prec, runtime.GOMAXPROCS(0), o.Out)
		if r.heldNote != "" {
			fmt.Fprintf(o.Log, "no evaluation: %s\n", r.heldNote)
		}
	}
	if err := r.syncStart(); err != nil {
		return nil, err
	}
	ctx := r.cfg.Text.ContextLength
	w := coca.LossWeights{Contrastive: float32(o.ContrastiveWeight), Caption: float32(o.CaptionWeight)}
	it := r.epochFrom(epoch, pos)
	defer func() { it.Close() }()
	bar := newProgress(o.Progress, o.Steps, start)
	t0 := time.Now().Add(-r.before) // elapsed_s counts the whole run's time
	var final *Metrics
	if n := len(r.evals); n > 0 {
		final = &r.evals[n-1].m
	}
	// The log window's sums carry over a stop and resume (checkpoint.json),
	// so a resumed run logs the same means as an uninterrupted one.
	lw := &r.logWindow
	*lw = r.start.Window
	imagesSince, since := 0, time.Now()
	halt := false // in-process ranks: the context was cancelled on some rank (agreed after each step)
	if r.inProcess() {
		_, cancelled, err := r.agreeHalt(nil)
		if err != nil {
			return nil, err
		}
		halt = cancelled
	}
	for step := start; step < o.Steps; step++ {
		if r.inProcess() && halt || !r.inProcess() && r.ctx.Err() != nil {
			err := context.Cause(r.ctx)
			if err == nil {
				err = errRankStopped // another rank's context
			}
			bar.clear()
			saved, serr := r.saveOnStop(step, epoch, it)
			if serr != nil {
				return nil, errors.Join(r.stopped(step, err, false), serr)
			}
			return nil, r.stopped(step, err, saved)
		}
		b, err := it.Next()
		if err == io.EOF { // epoch end
			it.Close()
			epoch++
			it = r.epochFrom(epoch, 0)
			b, err = it.Next()
		}
		if err != nil {
			return nil, err
		}
		done := step + 1
		n := b.Len()
		images := tensor.FromSlice(b.Images, n, 3, b.Size, b.Size)
		ids := r.tokenize(b.Captions, ctx)
		out := r.model.Forward(images, ids, n, ctx)
		loss, err := r.loss(out, ids, n, ctx, w)
		if err != nil {
			return nil, err
		}
		l, c, p := loss.total, loss.con, loss.cap
		if math.IsNaN(l) || math.IsInf(l, 0) {
			loss.release()
			it.Recycle(b)
			bar.clear()
			return nil, fmt.Errorf("train: step %d: loss is %v (contrastive %v, caption %v); stopping; %s", done, l, c, p, r.lastCheckpoint(done))
		}
		if err := loss.backward(); err != nil {
			return nil, err
		}
		it.Recycle(b)
		if o.ClipNorm > 0 {
			optim.ClipGradNorm(r.params, o.ClipNorm)
		}
		lr := r.sched.LR(step)
		r.opt.Step(lr)
		optim.ClampLogitScale(r.model.LogitScale)
		r.opt.ZeroGrad()
		if afterUpdate != nil {
			afterUpdate(done, r.model)
		}
		if err := r.checkUpdate(done, lr); err != nil {
			bar.clear()
			return nil, err
		}

		lw.Loss, lw.Contrastive, lw.Caption = lw.Loss+l, lw.Contrastive+c, lw.Caption+p
		lw.Steps++
		imagesSince += n * r.worldSize()
		if done%o.LogEvery == 0 || done == o.Steps {
			ips := float64(imagesSince) / time.Since(since).Seconds()
			n := float64(lw.Steps)
			r.writeJSON(stepLog{Step: done, Loss: lw.Loss / n, Contrastive: lw.Contrastive / n, Caption: lw.Caption / n,
				LR: lr, LogitScale: math.Exp(float64(r.logitScale())), ImagesPerS: ips, Elapsed: time.Since(t0).Seconds()})
			r.curve = append(r.curve, curvePoint{done, lw.Loss / n, lw.Contrastive / n, lw.Caption / n})
			bar.update(done, lw.Loss/n, lw.Contrastive/n, lw.Caption/n, lr, ips)
			*lw = logWindow{}
			imagesSince, since = 0, time.Now()
		}
		var evalNow *Metrics
		if r.held != nil && o.EvalEvery > 0 && (done%o.EvalEvery == 0 || done == o.Steps) {
			if err := r.settleUpdate(); err != nil {
				bar.clear()
				return nil, err
			}
			if r.isRoot() {
				m, err := r.evaluate()
				if err != nil {
					return nil, err
				}
				evalNow, final = &m, &m
				r.evals = append(r.evals, evalPoint{done, m})
				r.writeJSON(evalLog{Step: done, Metrics: m})
				bar.clear()
				fmt.Fprintf(o.Log, "step %d: %s\n", done, m.summary())
				if err := r.writeReport(done, false); err != nil {
					return nil, err
				}
			}
			if err := r.evalBarrier(); err != nil {
				return nil, err
			}
		}
		var stepErr error
		if o.OnStep != nil {
			if err := r.settleUpdate(); err != nil {
				bar.clear()
				return nil, err
			}
			stepErr = o.OnStep(StepInfo{Step: done, Steps: o.Steps, Loss: l, Contrastive: c, Caption: p, LR: lr,
				Elapsed: time.Since(t0), Eval: evalNow, Model: r.model})
		}
		if r.inProcess() { // every rank stops where rank 0's OnStep did
			onStep, cancelled, err := r.agreeHalt(stepErr)
			if err != nil {
				return nil, errors.Join(stepErr, err)
			}
			if onStep && stepErr == nil {
				stepErr = errRankStopped
			}
			halt = cancelled
		}
		if stepErr != nil {
			bar.clear()
			saved, serr := r.saveOnStop(done, epoch, it)
			if serr != nil {
				return nil, errors.Join(r.stopped(done, stepErr, false), serr)
			}
			return nil, r.stopped(done, stepErr, saved)
		}
		if done%o.SaveEvery == 0 || done == o.Steps || done == o.StopAt {
			if err := r.save(done, epoch, r.position(it)); err != nil {
				return nil, err
			}
		}
		if done == o.StopAt {
			bar.finish()
			fmt.Fprintf(o.Log, "stopped at step %d; continue with --resume\n", done)
			return &Result{Steps: done, Final: final, NoEval: r.noEval(), Stopped: done < o.Steps, Start: start, Elapsed: time.Since(t0) - r.before}, nil
		}
	}
	bar.finish()
	if n := r.loader.Skipped(); n > 0 {
		fmt.Fprintf(o.Log, "skipped %d unreadable items (--skip-bad): %s\n", n, r.loader.SkipLog())
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return &Result{Steps: o.Steps, Final: final, NoEval: r.noEval(), Start: start, Elapsed: time.Since(t0) - r.before}, nil
}

// noEval says why the run has no evaluation ("" when it has one or will).
func (r *run) noEval() string {
	switch {
	case r.heldNote != "":
		return r.heldNote
	case r.held != nil && r.o.EvalEvery <= 0:
		return "--eval-every 0"
	}
	return ""
}

// saveOnStop writes a checkpoint of step when a run is stopped between
// steps (a single process only: ranks could stop at different steps) and
// reports whether the run directory holds one of that step.
func (r *run) saveOnStop(step, epoch int, it *data.Iterator) (bool, error) {
	if err := r.settleUpdate(); err != nil {
		return false, err
	}
	if r.dp != nil && !r.inProcess() {
		return false, nil
	}
	if r.inProcess() { // ranks decide alike: their Out differ
		if step > 0 && step == r.savedAt {
			return true, nil
		}
	} else if info, ok, _ := readCheckpointInfo(r.o.Out); ok && info.Step == step {
		return true, nil
	}
	if step == 0 {
		return false, nil
	}
	if err := r.save(step, epoch, r.position(it)); err != nil {
		return false, err
	}
	return true, nil
}

// save writes a checkpoint after checking that the parameters and the
// optimizer state are finite.
func (r *run) save(step, epoch, pos int) error {
	if err := r.settleUpdate(); err != nil {
		return err
	}
	write, err := r.checkSave(step)
	if err != nil {
		return err
	}
	r.savedAt = step
	if !write {
		return nil
	}
	if bad, total, first := paramsFinite(r.model); bad > 0 {
		return fmt.Errorf("train: step %d: not saving a checkpoint with %d of %d parameter values non-finite (first in %s); %s", step, bad, total, first, r.lastCheckpoint(0))
	}
	st := r.opt.State()
	if bad, total, first := stateFinite(st); bad > 0 {
		return fmt.Errorf("train: step %d: not saving a checkpoint with %d of %d optimizer values non-finite (first in %s); %s", step, bad, total, first, r.lastCheckpoint(0))
	}
	meta := map[string]string{"seed": fmt.Sprint(r.o.Seed)}
	if r.merges != "" {
		meta["tokenizer_merges"] = r.merges
	}
	return saveCheckpoint(r.o.Out, checkpointInfo{Step: step, Seed: r.o.Seed, Epoch: epoch, Position: pos, Window: r.logWindow}, r.model, st, meta)
}

// finish writes the final model, config, samples, curves and report.
func (r *run) finish() error {
	if !r.isRoot() {
		return nil
	}
	out := r.o.Out
	// A run resumed at its final step has its last evaluation's figures but
	// not its samples: evaluate again (the same numbers) for the report.
	if n := len(r.evals); n > 0 && r.held != nil && r.o.Samples > 0 && len(r.evals[n-1].m.Samples) == 0 {
		m, err := r.evaluate()
		if err != nil {
			return err
		}
		r.evals[n-1].m.Samples = m.Samples
	}
	if err := r.model.SaveSafetensors(filepath.Join(out, "model.safetensors")); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(out, "config.json"), r.cfg.JSON()); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return r.writeReport(r.o.Steps, true)
}
