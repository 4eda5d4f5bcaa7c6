// Package train trains CoCa: the built-in synthetic dataset or captioned
// image files, AdamW/Adafactor/SGD with a warmup schedule, periodic
// evaluation (retrieval, zero-shot, exact-match captions), metrics and a loss
// curve, and atomic checkpoints with exact resume. It is what
// `coca train` runs.
package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// Options configure a run. The zero value of a field means its default.
type Options struct {
	Out    string // run directory (default "runs/coca")
	Config string // built-in config name or open_clip JSON file (default "coca_shapes")

	// Data: "synthetic" (default), a captions file (.tsv/.csv: image path,
	// tab, caption), a COCO captions .json, or webdataset .tar shards
	// (comma-separated).
	Data       string
	ImageRoot  string // image directory for COCO
	Difficulty string // synthetic difficulty: easy, default, hard
	SkipBad    bool   // skip unreadable items (counted) instead of failing

	// Tokenizer: "auto" (default: for the synthetic data, BPE merges learnt
	// from its training captions; CLIP's BPE otherwise), "clip", or a merges
	// file. VocabMerges is the number of merges "auto" learns (default 150).
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
	ClipNorm    float64 // global gradient-norm clip (default 1; <0 disables)

	ContrastiveWeight float64 // default 1
	CaptionWeight     float64 // default 2

	Seed      uint64
	Resume    bool   // continue the run in Out from its checkpoint
	Init      string // start from these model weights (fine-tuning)
	LogEvery  int    // steps between metric lines (default 10)
	EvalEvery int    // steps between evaluations (default Steps/4; negative: never)
	HeldOut   int    // synthetic held-out pairs to evaluate on (default 512)
	StopAt    int    // stop (after a checkpoint) at this step, to resume later; 0: run to Steps
	SaveEvery int    // steps between checkpoints (default 250)
	Workers   int    // data workers (default GOMAXPROCS)
	Samples   int    // held-out captions written to samples.txt (default 16)

	Parallel Parallel // data-parallel training over several ranks (dist.go)

	// Progress receives the progress bar (default os.Stderr); Log receives
	// summary lines (default os.Stdout).
	Progress io.Writer
	Log      io.Writer
}

func (o *Options) defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if o.Out == "" {
		o.Out = filepath.Join("runs", "coca")
	}
	if o.Config == "" {
		o.Config = "coca_shapes"
	}
	if o.Data == "" {
		o.Data = "synthetic"
	}
	if o.Difficulty == "" {
		o.Difficulty = "default"
	}
	if o.Tokenizer == "" {
		o.Tokenizer = "auto"
	}
	def(&o.VocabMerges, 150)
	def(&o.Steps, 4600)
	def(&o.BatchSize, 64)
	if o.LR == 0 {
		o.LR = 2e-3
	}
	if o.MinLR == 0 {
		o.MinLR = o.LR / 50
	}
	def(&o.Warmup, max(o.Steps/20, 1))
	if o.Schedule == "" {
		o.Schedule = "cosine"
	}
	if o.Optimizer == "" {
		o.Optimizer = "adamw"
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 0.05
	}
	if o.ClipNorm == 0 {
		o.ClipNorm = 1
	}
	if o.ContrastiveWeight == 0 {
		o.ContrastiveWeight = 1
	}
	if o.CaptionWeight == 0 {
		o.CaptionWeight = 2
	}
	def(&o.LogEvery, 10)
	if o.EvalEvery == 0 {
		o.EvalEvery = max(o.Steps/4, 1)
	}
	def(&o.SaveEvery, 250)
	def(&o.Samples, 16)
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
}

// Result summarises a finished run.
type Result struct {
	Steps   int
	Final   Metrics
	Elapsed time.Duration
}

// beforeStep, when set (tests), runs after each optimizer step.
var beforeStep func(step int, m *coca.Model)

// run holds everything one training run uses.
type run struct {
	o        Options
	cfg      *coca.Config
	model    *coca.Model
	tok      *tokenizer.Tokenizer
	merges   string   // learnt merges file text ("" for CLIP's)
	captions []string // sample of training captions (tokenizer, context length)
	train    data.Dataset
	held, zs *evalSet
	classes  []string
	loader   *data.Loader
	opt      optim.Optimizer
	sched    optim.Schedule
	params   []*tensor.Tensor
	metrics  *os.File
	curve    []curvePoint
	dp       *dataParallel // nil in a single process
}

// Run trains a model as o says and returns the final evaluation.
func Run(o Options) (*Result, error) {
	o.defaults()
	r := &run{o: o}
	defer r.closeParallel()
	if err := r.setupParallel(); err != nil {
		return nil, err
	}
	if err := r.setup(); err != nil {
		return nil, err
	}
	defer r.metrics.Close()
	res, err := r.loop()
	if err == nil {
		err = r.endParallel()
	}
	return res, err
}

func (r *run) setup() error {
	o := &r.o
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	cfg, err := coca.ResolveConfig(o.Config)
	if err != nil {
		return err
	}
	r.cfg = cfg
	if err := r.setupData(); err != nil {
		return err
	}
	if err := r.setupTokenizer(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "config.json"), r.cfg.JSON(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.model = coca.New(r.cfg)
	r.model.Init(o.Seed)
	if o.Init != "" {
		if err := r.model.LoadSafetensors(o.Init); err != nil {
			return err
		}
	}
	for _, p := range r.model.Params() {
		r.params = append(r.params, p.Tensor)
	}
	switch o.Optimizer {
	case "adamw":
		c := optim.DefaultAdamWConfig()
		c.WeightDecay = o.WeightDecay
		c.Beta2 = 0.98
		c.Eps = 1e-6
		r.opt, err = optim.NewAdamW(r.params, c)
	case "adafactor":
		c := optim.DefaultAdafactorConfig()
		c.WeightDecay = o.WeightDecay
		r.opt, err = optim.NewAdafactor(r.params, c)
	case "sgd":
		r.opt, err = optim.NewSGD(r.params, optim.SGDConfig{Momentum: 0.9, WeightDecay: o.WeightDecay})
	default:
		return fmt.Errorf("train: unknown optimizer %q (want adamw, adafactor or sgd)", o.Optimizer)
	}
	if err != nil {
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
		return fmt.Errorf("train: %s has %d pairs, fewer than one batch of %d", o.Data, r.train.Len(), o.BatchSize)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if o.Resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	r.metrics, err = os.OpenFile(filepath.Join(o.Out, "metrics.jsonl"), flags, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func (r *run) setupData() error {
	o := &r.o
	size := r.cfg.Vision.ImageSize
	switch {
	case o.Data == "synthetic":
		d, err := data.ParseDifficulty(o.Difficulty)
		if err != nil {
			return err
		}
		s, err := data.NewSynth(data.SynthConfig{Difficulty: d, ImageSize: size, Seed: o.Seed, HeldOutSize: o.HeldOut, ZeroShotSize: o.HeldOut})
		if err != nil {
			return err
		}
		r.train = s.Train()
		if r.held, err = loadEvalSet(s.HeldOut(), size, nil); err != nil {
			return err
		}
		zs := s.ZeroShot()
		if r.zs, err = loadEvalSet(zs, size, zs.Labels()); err != nil {
			return err
		}
		r.classes = s.Classes()
		return nil
	case strings.HasSuffix(o.Data, ".json"):
		ds, err := data.OpenCOCO(o.Data, o.ImageRoot, data.COCOOptions{SkipBad: o.SkipBad})
		if err != nil {
			return err
		}
		return r.splitFiles(ds)
	case strings.HasSuffix(o.Data, ".tar"):
		ds, err := data.OpenWebDataset(strings.Split(o.Data, ","), data.WebDatasetOptions{SkipBad: o.SkipBad})
		if err != nil {
			return err
		}
		return r.splitFiles(ds)
	default:
		ds, err := data.OpenTSV(o.Data, data.TSVOptions{SkipBad: o.SkipBad})
		if err != nil {
			return err
		}
		return r.splitFiles(ds)
	}
}

// splitFiles holds out the last min(512, N/10) pairs of a file dataset for
// evaluation.
func (r *run) splitFiles(ds data.Dataset) error {
	n := ds.Len()
	h := min(512, n/10)
	if h == 0 {
		r.train = ds
		return nil
	}
	r.train = &subset{ds, 0, n - h}
	var err error
	r.held, err = loadEvalSet(&subset{ds, n - h, n}, r.cfg.Vision.ImageSize, nil)
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

func (r *run) setupTokenizer() error {
	o := &r.o
	switch {
	case o.Tokenizer == "clip" || (o.Tokenizer == "auto" && o.Data != "synthetic"):
		r.tok = tokenizer.New()
	case o.Tokenizer == "auto":
		if o.Resume {
			if b, err := os.ReadFile(filepath.Join(o.Out, "tokenizer.txt")); err == nil {
				return r.useMerges(b, filepath.Join(o.Out, "tokenizer.txt"))
			}
		}
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
	if err := os.WriteFile(filepath.Join(r.o.Out, "tokenizer.txt"), b, 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return r.fitVocab()
}

// fitVocab sizes a built-in config's vocabulary to the tokenizer's (a
// config file must already agree) and, for a built-in config, shortens the
// context to the longest tokenized training caption.
func (r *run) fitVocab() error {
	v := r.tok.VocabSize()
	_, builtinErr := coca.Builtin(r.o.Config)
	builtin := builtinErr == nil
	if r.cfg.Text.VocabSize != v || r.cfg.Multimodal.VocabSize != v {
		if !builtin {
			return fmt.Errorf("train: config %s: vocab_size %d does not match the tokenizer's %d", r.o.Config, r.cfg.Text.VocabSize, v)
		}
		r.cfg.Text.VocabSize, r.cfg.Multimodal.VocabSize = v, v
	}
	if builtin && !r.o.Resume {
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
	if builtin && r.o.Resume {
		if c, err := coca.LoadConfig(filepath.Join(r.o.Out, "config.json")); err == nil {
			r.cfg = c
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

func (r *run) loop() (*Result, error) {
	o := &r.o
	start, epoch, pos := 0, 0, 0
	if o.Resume {
		info, err := r.loadCheckpoint()
		if err != nil {
			return nil, err
		}
		start, epoch, pos = info.Step, info.Epoch, info.Position
		fmt.Fprintf(o.Log, "resuming %s at step %d\n", o.Out, start)
	} else {
		fmt.Fprintf(o.Log, "training %s (%.2f M parameters, vocabulary %d) on %s for %d steps of %d, %d threads → %s\n",
			o.Config, float64(r.model.NumParams())/1e6, r.tok.VocabSize(), o.Data, o.Steps, o.BatchSize, runtime.GOMAXPROCS(0), o.Out)
	}
	if err := r.syncStart(); err != nil {
		return nil, err
	}
	ctx := r.cfg.Text.ContextLength
	w := coca.LossWeights{Contrastive: float32(o.ContrastiveWeight), Caption: float32(o.CaptionWeight)}
	it := r.epochFrom(epoch, pos)
	defer func() { it.Close() }()
	bar := newProgress(o.Progress, o.Steps, start)
	t0 := time.Now()
	var final Metrics
	var sumL, sumC, sumP float64
	nLog := 0
	imagesSince, since := 0, time.Now()
	for step := start; step < o.Steps; step++ {
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
			last := "none was written"
			if info, ok, _ := readCheckpointInfo(o.Out); ok {
				last = fmt.Sprintf("%s (step %d) is intact", filepath.Join(o.Out, checkpointFile), info.Step)
			}
			return nil, fmt.Errorf("train: step %d: loss is %v (contrastive %v, caption %v); stopping; the last checkpoint %s", step, l, c, p, last)
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

		sumL, sumC, sumP = sumL+l, sumC+c, sumP+p
		nLog++
		imagesSince += n * r.worldSize()
		done := step + 1
		if done%o.LogEvery == 0 || done == o.Steps {
			ips := float64(imagesSince) / time.Since(since).Seconds()
			r.writeJSON(stepLog{Step: done, Loss: sumL / float64(nLog), Contrastive: sumC / float64(nLog), Caption: sumP / float64(nLog),
				LR: lr, LogitScale: math.Exp(float64(r.model.LogitScale.Item())), ImagesPerS: ips, Elapsed: time.Since(t0).Seconds()})
			r.curve = append(r.curve, curvePoint{done, sumL / float64(nLog), sumC / float64(nLog), sumP / float64(nLog)})
			bar.update(done, sumL/float64(nLog), sumC/float64(nLog), sumP/float64(nLog), lr, ips)
			sumL, sumC, sumP, nLog = 0, 0, 0, 0
			imagesSince, since = 0, time.Now()
		}
		if beforeStep != nil {
			beforeStep(done, r.model)
		}
		if r.held != nil && o.EvalEvery > 0 && (done%o.EvalEvery == 0 || done == o.Steps) {
			if r.isRoot() {
				final = evaluate(r.model, r.tok, r.held, r.zs, r.classes, ctx, o.Samples)
				r.writeJSON(evalLog{Step: done, Metrics: final})
				bar.clear()
				fmt.Fprintf(o.Log, "step %d: image→text R@1 %.3f, text→image R@1 %.3f, zero-shot top-1 %.3f, exact captions %.3f\n",
					done, final.ImageToTextR1, final.TextToImageR1, final.ZeroShotTop1, final.CaptionExactMatch)
			}
			if err := r.evalBarrier(); err != nil {
				return nil, err
			}
		}
		if done%o.SaveEvery == 0 || done == o.Steps || done == o.StopAt {
			if err := r.save(done, epoch, r.position(it)); err != nil {
				return nil, err
			}
		}
		if done == o.StopAt {
			bar.finish()
			fmt.Fprintf(o.Log, "stopped at step %d; continue with --resume\n", done)
			return &Result{Steps: done, Elapsed: time.Since(t0)}, nil
		}
	}
	bar.finish()
	if n := r.loader.Skipped(); n > 0 {
		fmt.Fprintf(o.Log, "skipped %d unreadable items (--skip-bad): %s\n", n, r.loader.SkipLog())
	}
	if err := r.finish(final); err != nil {
		return nil, err
	}
	return &Result{Steps: o.Steps, Final: final, Elapsed: time.Since(t0)}, nil
}

func (r *run) save(step, epoch, pos int) error {
	if write, err := r.checkSave(step); !write || err != nil {
		return err
	}
	meta := map[string]string{"seed": fmt.Sprint(r.o.Seed)}
	if r.merges != "" {
		meta["tokenizer_merges"] = r.merges
	}
	return saveCheckpoint(r.o.Out, step, r.o.Seed, epoch, pos, r.model, r.opt, meta)
}

// finish writes the final model, config, samples and loss curve.
func (r *run) finish(final Metrics) error {
	if !r.isRoot() {
		return nil
	}
	out := r.o.Out
	if err := r.model.SaveSafetensors(filepath.Join(out, "model.safetensors")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "config.json"), r.cfg.JSON(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if len(final.Samples) > 0 {
		var b strings.Builder
		for _, s := range final.Samples {
			mark := " "
			if normalizeCaption(s.Generated) == normalizeCaption(s.Caption) {
				mark = "="
			}
			fmt.Fprintf(&b, "%s held-out %4d  truth: %-50s  model: %s\n", mark, s.Index, s.Caption, strings.TrimSpace(s.Generated))
		}
		if err := os.WriteFile(filepath.Join(out, "samples.txt"), []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if len(r.curve) > 1 {
		if err := plotCurve(filepath.Join(out, "loss.png"), r.curve); err != nil {
			return err
		}
	}
	return nil
}
