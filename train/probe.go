package train

// Probes: a classification head trained on a CoCa image encoder, the CoCa
// paper's frozen-feature evaluation (its 90.6% ImageNet top-1 is an
// attentional-pooling head on the frozen encoder) and, with Finetune, the
// encoder trained along with the head.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// Probe head kinds.
const (
	// ProbeLinear is logistic regression on the model's image embedding
	// (the normalised contrastive feature, EmbedDim wide).
	ProbeLinear = "linear"
	// ProbeAttentional is an attentional pooler with one query over the
	// image encoder's output tokens (before the model's own poolers),
	// followed by a LayerNorm and a linear classifier.
	ProbeAttentional = "attentional"
)

// ProbeOptions configure TrainProbe. The zero value of a field means its
// default.
type ProbeOptions struct {
	Head        string  // ProbeLinear (default) or ProbeAttentional
	Epochs      int     // passes over the training images (default 100; 10 with Finetune)
	BatchSize   int     // default 64
	LR          float64 // peak learning rate of the head, cosine-decayed (default 1e-2 linear, 1e-3 attentional)
	WeightDecay float64 // AdamW's decoupled weight decay (default 1e-4)
	// HeldOut is the fraction of each class's images held out for the
	// reported top-1 (default 0.2; at least one image of a class with two
	// or more). The split is drawn from Seed.
	HeldOut float64
	Seed    uint64
	// Finetune trains the image encoder with the head (from the model's
	// weights, at EncoderLR, default LR/10); the head file then holds the
	// encoder's weights too. Without it the encoder is frozen and its
	// features are computed once.
	Finetune  bool
	EncoderLR float64
	Workers   int       // image decoding goroutines (default GOMAXPROCS)
	Log       io.Writer // progress lines (default io.Discard)
}

func (o *ProbeOptions) defaults() error {
	if o.Head == "" {
		o.Head = ProbeLinear
	}
	if o.Head != ProbeLinear && o.Head != ProbeAttentional {
		return fmt.Errorf("train: probe head %q: want linear or attentional", o.Head)
	}
	if o.Epochs == 0 {
		o.Epochs = 100
		if o.Finetune {
			o.Epochs = 10
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 64
	}
	if o.LR == 0 {
		o.LR = 1e-2
		if o.Head == ProbeAttentional {
			o.LR = 1e-3
		}
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-4
	}
	if o.HeldOut == 0 {
		o.HeldOut = 0.2
	}
	if o.EncoderLR == 0 {
		o.EncoderLR = o.LR / 10
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	switch {
	case o.Epochs < 1, o.BatchSize < 1:
		return fmt.Errorf("train: probe: epochs %d and batch %d must be at least 1", o.Epochs, o.BatchSize)
	case !(o.HeldOut > 0 && o.HeldOut < 1):
		return fmt.Errorf("train: probe: held-out fraction %v: want a value in (0, 1)", o.HeldOut)
	case !(o.LR > 0) || !(o.EncoderLR > 0) || o.WeightDecay < 0 || math.IsInf(o.LR+o.EncoderLR+o.WeightDecay, 0):
		return fmt.Errorf("train: probe: lr %v, encoder lr %v, weight decay %v: want finite positive rates", o.LR, o.EncoderLR, o.WeightDecay)
	}
	return nil
}

// ProbeHead is a trained classification head.
type ProbeHead struct {
	Kind    string   // ProbeLinear or ProbeAttentional
	Classes []string // class names, by label
	// Pool and Norm (attentional heads) pool the encoder tokens; Linear
	// maps the pooled feature (or the image embedding) to class logits.
	Pool   *nn.AttentionalPooler
	Norm   *nn.LayerNorm
	Linear *nn.Linear
	// Encoder holds the finetuned image encoder's weights under the
	// model's names ("visual.…"), or nil for a frozen-encoder probe.
	Encoder map[string]*tensor.Tensor
	in      int // input width
}

func newProbeHead(kind string, classes []string, cfg *coca.Config, seed uint64) *ProbeHead {
	h := &ProbeHead{Kind: kind, Classes: append([]string(nil), classes...)}
	g := tensor.NewRNG(seed)
	if kind == ProbeAttentional {
		w := cfg.Vision.Width
		h.in = w
		h.Pool = nn.NewAttentionalPooler(w, w, cfg.VisionHeads(), 1)
		h.Norm = nn.NewLayerNorm(w)
	} else {
		h.in = cfg.EmbedDim
	}
	h.Linear = nn.NewLinear(h.in, len(classes), true)
	for _, p := range h.Params() {
		p.Tensor.SetName(p.Name)
		d := p.Tensor.Data()
		switch p.Name {
		case "pool.query":
			g.Normal(p.Tensor, 0, 1)
		case "pool.attn.in_proj_weight":
			g.XavierUniform(p.Tensor, 1)
		case "pool.ln_q.weight", "pool.ln_k.weight", "norm.weight":
			for i := range d {
				d[i] = 1
			}
		case "pool.attn.out_proj.weight", "linear.weight":
			bound := 1 / math.Sqrt(float64(p.Tensor.Dim(1)))
			g.Uniform(p.Tensor, -bound, bound)
		}
	}
	if kind == ProbeLinear {
		clear(h.Linear.Weight.Data()) // logistic regression from zero
	}
	return h
}

// Params lists the head's parameters ("pool.…", "norm.…", "linear.…").
func (h *ProbeHead) Params() []nn.Param {
	var pool, norm nn.Module
	if h.Pool != nil {
		pool, norm = h.Pool, h.Norm
	}
	return nn.Collect("pool", pool, "norm", norm, "linear", h.Linear)
}

// features computes the head's input for images (B, 3, S, S): the image
// embedding (B, D) or the encoder tokens (B, T, W).
func (h *ProbeHead) features(m *coca.Model, images *tensor.Tensor) *tensor.Tensor {
	if h.Kind == ProbeAttentional {
		return EncoderTokens(m, images)
	}
	// EncodeImage's features, through the layers so that a finetuned
	// probe's gradient reaches the encoder (images outside a no-grad
	// scope record the graph).
	lat, tok := m.Visual.Forward(images)
	f := tensor.Normalize(lat, 1e-12)
	tensor.Drop(tok, lat)
	return f
}

// logits maps features to class logits (B, C).
func (h *ProbeHead) logits(x *tensor.Tensor) *tensor.Tensor {
	if h.Kind == ProbeAttentional {
		p := h.Pool.Forward(x) // (B, 1, W)
		x = h.Norm.Forward(tensor.Reshape(p, p.Dim(0), p.Dim(2)))
	}
	return h.Linear.Forward(x)
}

// EncoderTokens returns the image encoder's output tokens (B, 1+N, W) for
// images (B, 3, S, S): the class token and the patch tokens after the last
// transformer block (and ln_post, which open_clip applies before the
// poolers except in the legacy single-pooler layout), before any pooler
// (coca.VisionTower.Encode).
func EncoderTokens(m *coca.Model, images *tensor.Tensor) *tensor.Tensor {
	return m.Visual.Encode(images)
}

// Probs returns the class probabilities (B, C), row-major, of images
// (B, 3, S, S) under model m. A head with encoder weights must have been
// applied to m (Apply). It is safe for concurrent use.
func (h *ProbeHead) Probs(m *coca.Model, images *tensor.Tensor) []float32 {
	sc := tensor.NoGrad() // this call's own scope: nothing recorded
	defer sc.End()
	return append([]float32(nil), tensor.Softmax(h.logits(h.features(m, sc.Use(images)))).Data()...)
}

// Check reports whether the head fits model m's widths.
func (h *ProbeHead) Check(m *coca.Model) error {
	want := m.Config.EmbedDim
	what := "embed_dim"
	if h.Kind == ProbeAttentional {
		want, what = m.Config.Vision.Width, "vision width"
	}
	if h.in != want {
		return fmt.Errorf("train: the %s probe reads %d-wide features but the model's %s is %d", h.Kind, h.in, what, want)
	}
	return nil
}

// Apply loads a finetuned head's encoder weights into m (a frozen-encoder
// head changes nothing).
func (h *ProbeHead) Apply(m *coca.Model) error {
	if len(h.Encoder) == 0 {
		return nil
	}
	params := visualParams(m)
	var bad []string
	for _, p := range params {
		t, ok := h.Encoder[p.Name]
		if !ok || t.Numel() != p.Tensor.Numel() {
			bad = append(bad, p.Name)
		}
	}
	if len(bad) > 0 || len(params) != len(h.Encoder) {
		return fmt.Errorf("train: the probe's finetuned encoder does not fit the model (%d of its %d tensors, %d missing or mis-shaped, e.g. %v)", len(h.Encoder), len(params), len(bad), bad[:min(len(bad), 3)])
	}
	for _, p := range params {
		p.Tensor.CopyFrom(h.Encoder[p.Name].Data())
	}
	return nil
}

func visualParams(m *coca.Model) []nn.Param {
	var out []nn.Param
	for _, p := range m.Params() {
		if len(p.Name) > 7 && p.Name[:7] == "visual." {
			out = append(out, p)
		}
	}
	return out
}

// probeMeta is the head file's "gococa_probe" metadata.
type probeMeta struct {
	Kind      string   `json:"kind"`
	Classes   []string `json:"classes"`
	InputDim  int      `json:"input_dim"`
	Heads     int      `json:"heads,omitempty"`
	Finetuned bool     `json:"finetuned"`
	HeldOut   float64  `json:"held_out_top1"`
}

// Save writes the head (and a finetuned encoder) as safetensors, with the
// class names and the held-out top-1 in the metadata.
func (h *ProbeHead) Save(path string, heldOutTop1 float64) error {
	meta := probeMeta{Kind: h.Kind, Classes: h.Classes, InputDim: h.in, Finetuned: len(h.Encoder) > 0, HeldOut: heldOutTop1}
	if h.Pool != nil {
		meta.Heads = h.Pool.Attn.Heads
	}
	mb, _ := json.Marshal(meta)
	var ts []safetensors.Tensor
	for _, p := range h.Params() {
		ts = append(ts, safetensors.F32("probe."+p.Name, p.Tensor.Shape(), p.Tensor.Data()))
	}
	names := make([]string, 0, len(h.Encoder))
	for n := range h.Encoder {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ts = append(ts, safetensors.F32(n, h.Encoder[n].Shape(), h.Encoder[n].Data()))
	}
	if err := safetensors.WriteFile(path, ts, map[string]string{"format": "pt", "gococa_probe": string(mb)}); err != nil {
		return fmt.Errorf("train: probe: %w", err)
	}
	return nil
}

// LoadProbe reads a head written by Save (coca probe).
func LoadProbe(path string) (*ProbeHead, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: probe: %w", err)
	}
	defer f.Close()
	raw := f.Metadata()["gococa_probe"]
	if raw == "" {
		return nil, fmt.Errorf("train: probe %s: no gococa_probe metadata (not written by coca probe)", path)
	}
	var meta probeMeta
	if err := json.Unmarshal([]byte(raw), &meta); err != nil {
		return nil, fmt.Errorf("train: probe %s: gococa_probe metadata: %v", path, err)
	}
	if (meta.Kind != ProbeLinear && meta.Kind != ProbeAttentional) || len(meta.Classes) < 2 || meta.InputDim < 1 || meta.InputDim > 1<<16 ||
		(meta.Kind == ProbeAttentional && (meta.Heads < 1 || meta.InputDim%meta.Heads != 0)) {
		return nil, fmt.Errorf("train: probe %s: bad metadata %s", path, raw)
	}
	h := &ProbeHead{Kind: meta.Kind, Classes: meta.Classes, in: meta.InputDim}
	if meta.Kind == ProbeAttentional {
		h.Pool = nn.NewAttentionalPooler(meta.InputDim, meta.InputDim, meta.Heads, 1)
		h.Norm = nn.NewLayerNorm(meta.InputDim)
	}
	h.Linear = nn.NewLinear(meta.InputDim, len(meta.Classes), true)
	want := map[string]bool{}
	for _, p := range h.Params() {
		name := "probe." + p.Name
		want[name] = true
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("train: probe %s: tensor %s missing", path, name)
		}
		if fmt.Sprint(info.Shape) != fmt.Sprint(p.Tensor.Shape()) {
			return nil, fmt.Errorf("train: probe %s: tensor %s has shape %v, want %v", path, name, info.Shape, p.Tensor.Shape())
		}
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("train: probe %s: %w", path, err)
		}
		if countNonFinite(v) > 0 {
			return nil, fmt.Errorf("train: probe %s: tensor %s holds non-finite values", path, name)
		}
		p.Tensor.CopyFrom(v)
	}
	for _, name := range f.Names() {
		if want[name] {
			continue
		}
		if !meta.Finetuned || len(name) < 8 || name[:7] != "visual." {
			return nil, fmt.Errorf("train: probe %s: unexpected tensor %s", path, name)
		}
		info, _ := f.Info(name)
		v, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("train: probe %s: %w", path, err)
		}
		if h.Encoder == nil {
			h.Encoder = map[string]*tensor.Tensor{}
		}
		h.Encoder[name] = tensor.FromSlice(v, info.Shape...)
	}
	if meta.Finetuned && len(h.Encoder) == 0 {
		return nil, fmt.Errorf("train: probe %s: marked finetuned but holds no encoder weights", path)
	}
	return h, nil
}

// ProbeResult is a trained probe and its accuracy.
type ProbeResult struct {
	Head                   *ProbeHead
	TrainTop1, HeldOutTop1 float64
	Train, HeldOut         int       // images in each split
	PerClass               []float64 // held-out top-1 of each class
	Elapsed                time.Duration
}

// splitFolder holds out a fraction of each class's images, drawn from seed.
func splitFolder(labels []int, classes int, frac float64, seed uint64) (train, held []int) {
	by := make([][]int, classes)
	for i, l := range labels {
		by[l] = append(by[l], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x70726f6265)) // "probe"
	for _, idx := range by {
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		h := int(math.Round(frac * float64(len(idx))))
		if h == 0 && len(idx) >= 2 {
			h = 1
		}
		if h == len(idx) {
			h = len(idx) - 1
		}
		held = append(held, idx[:h]...)
		train = append(train, idx[h:]...)
	}
	sort.Ints(train)
	sort.Ints(held)
	return train, held
}

type indexSubset struct {
	ds  data.Dataset
	idx []int
}

func (s *indexSubset) Len() int { return len(s.idx) }
func (s *indexSubset) Item(i int) (img image.Image, caption string, err error) {
	return s.ds.Item(s.idx[i])
}

// TrainProbe trains a classification head on m's image encoder over the
// labelled images of ds and reports its top-1 on the held-out images. With
// a frozen encoder (the default) the model is not changed; with Finetune its
// image encoder is trained in place (and saved in the head).
func TrainProbe(ctx context.Context, m *coca.Model, ds *data.ImageFolder, o ProbeOptions) (*ProbeResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t0 := time.Now()
	classes := ds.Classes()
	if len(classes) < 2 {
		return nil, fmt.Errorf("train: probe: %d class, want at least 2", len(classes))
	}
	labels := ds.Labels()
	trainIdx, heldIdx := splitFolder(labels, len(classes), o.HeldOut, o.Seed)
	if len(heldIdx) == 0 || len(trainIdx) == 0 {
		return nil, fmt.Errorf("train: probe: %d images: too few to hold some out", ds.Len())
	}
	h := newProbeHead(o.Head, classes, &m.Config, o.Seed)
	res := &ProbeResult{Head: h, Train: len(trainIdx), HeldOut: len(heldIdx)}
	fmt.Fprintf(o.Log, "probe: %s head, %d classes, %d training and %d held-out images\n", o.Head, len(classes), len(trainIdx), len(heldIdx))
	var err error
	if o.Finetune {
		err = finetuneProbe(ctx, m, h, ds, trainIdx, labels, o)
	} else {
		err = frozenProbe(ctx, m, h, ds, trainIdx, heldIdx, labels, o)
	}
	if err != nil {
		return nil, err
	}
	if res.TrainTop1, _, err = probeTop1(m, h, ds, trainIdx, labels, len(classes), o); err != nil {
		return nil, err
	}
	if res.HeldOutTop1, res.PerClass, err = probeTop1(m, h, ds, heldIdx, labels, len(classes), o); err != nil {
		return nil, err
	}
	if o.Finetune {
		h.Encoder = map[string]*tensor.Tensor{}
		for _, p := range visualParams(m) {
			h.Encoder[p.Name] = tensor.FromSlice(append([]float32(nil), p.Tensor.Data()...), p.Tensor.Shape()...)
		}
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

// encodeAll computes the head's frozen input for images idx of ds.
func encodeAll(m *coca.Model, h *ProbeHead, ds data.Dataset, idx []int, o ProbeOptions) (feat []float32, shape []int, err error) {
	sc := tensor.NoGrad()
	defer sc.End()
	l, err := data.NewLoader(&indexSubset{ds, idx}, data.LoaderConfig{BatchSize: 64, ImageSize: m.Config.Vision.ImageSize, KeepLast: true, Workers: o.Workers})
	if err != nil {
		return nil, nil, err
	}
	it := l.Epoch(0)
	defer it.Close()
	for {
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		f := h.features(m, sc.Use(tensor.FromSlice(b.Images, b.Len(), 3, b.Size, b.Size)))
		feat = append(feat, f.Data()...)
		shape = f.Shape()[1:]
		it.Recycle(b)
	}
	return feat, shape, nil
}

// frozenProbe trains h on features computed once.
func frozenProbe(ctx context.Context, m *coca.Model, h *ProbeHead, ds data.Dataset, trainIdx, heldIdx, labels []int, o ProbeOptions) error {
	feat, shape, err := encodeAll(m, h, ds, trainIdx, o)
	if err != nil {
		return err
	}
	row := 1
	for _, d := range shape {
		row *= d
	}
	// A linear head is trained on standardised features (each dimension's
	// training mean and standard deviation), as logistic regression is, and
	// the standardisation is folded into its weights at the end.
	var mean, inv []float64
	if h.Kind == ProbeLinear {
		mean, inv = standardize(feat, row)
		defer foldStandardization(h.Linear, mean, inv)
	}
	opt, _, err := adamW(h.Params(), o.WeightDecay)
	if err != nil {
		return err
	}
	n := len(trainIdx)
	perEpoch := (n + o.BatchSize - 1) / o.BatchSize
	total := perEpoch * o.Epochs
	sched, err := optim.NewWarmupCosine(o.LR, 0, min(total/20, 100), total)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x65706f6368)) // "epoch"
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	step := 0
	for ep := 0; ep < o.Epochs; ep++ {
		rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		var sum float64
		for lo := 0; lo < n; lo += o.BatchSize {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			hi := min(lo+o.BatchSize, n)
			x := make([]float32, 0, (hi-lo)*row)
			y := make([]int, 0, hi-lo)
			for _, k := range order[lo:hi] {
				x = append(x, feat[k*row:(k+1)*row]...)
				y = append(y, labels[trainIdx[k]])
			}
			loss := tensor.CrossEntropy(h.logits(tensor.FromSlice(x, append([]int{hi - lo}, shape...)...)), y, -1)
			lv := float64(loss.Item())
			if math.IsNaN(lv) || math.IsInf(lv, 0) {
				return fmt.Errorf("train: probe: epoch %d: loss is %v (lower --lr)", ep+1, lv)
			}
			sum += lv * float64(hi-lo)
			tensor.BackwardRelease(loss, nil)
			opt.Step(sched.LR(step))
			opt.ZeroGrad()
			step++
		}
		if ep == 0 || (ep+1)%max(o.Epochs/10, 1) == 0 || ep == o.Epochs-1 {
			fmt.Fprintf(o.Log, "probe: epoch %d/%d: training loss %.4f\n", ep+1, o.Epochs, sum/float64(n))
		}
	}
	return nil
}

// standardize rescales rows of width d in place to zero mean and unit
// variance per column and returns the means and inverse deviations.
func standardize(x []float32, d int) (mean, inv []float64) {
	n := len(x) / d
	mean, inv = make([]float64, d), make([]float64, d)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			mean[j] += float64(x[i*d+j])
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			v := float64(x[i*d+j]) - mean[j]
			inv[j] += v * v
		}
	}
	for j := range inv {
		inv[j] = 1 / math.Sqrt(inv[j]/float64(n)+1e-12)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x[i*d+j] = float32((float64(x[i*d+j]) - mean[j]) * inv[j])
		}
	}
	return mean, inv
}

// foldStandardization makes l read raw features: W·((x−μ)·s) + b becomes
// (W·diag(s))·x + (b − W·diag(s)·μ).
func foldStandardization(l *nn.Linear, mean, inv []float64) {
	w, b := l.Weight.Data(), l.Bias.Data()
	d := len(mean)
	for c := 0; c < l.Weight.Dim(0); c++ {
		var shift float64
		for j := 0; j < d; j++ {
			wj := float64(w[c*d+j]) * inv[j]
			w[c*d+j] = float32(wj)
			shift += wj * mean[j]
		}
		b[c] = float32(float64(b[c]) - shift)
	}
}

// adamW returns an AdamW optimizer over ps and their tensors.
func adamW(ps []nn.Param, weightDecay float64) (optim.Optimizer, []*tensor.Tensor, error) {
	ts := make([]*tensor.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = p.Tensor
	}
	c := optim.DefaultAdamWConfig()
	c.WeightDecay = weightDecay
	opt, err := optim.NewAdamW(ts, c)
	return opt, ts, err
}

// finetuneProbe trains h and m's image encoder together.
func finetuneProbe(ctx context.Context, m *coca.Model, h *ProbeHead, ds data.Dataset, trainIdx, labels []int, o ProbeOptions) error {
	headOpt, headParams, err := adamW(h.Params(), o.WeightDecay)
	if err != nil {
		return err
	}
	encOpt, encParams, err := adamW(visualParams(m), o.WeightDecay)
	if err != nil {
		return err
	}
	sub := &indexSubset{ds, trainIdx}
	l, err := data.NewLoader(sub, data.LoaderConfig{BatchSize: o.BatchSize, ImageSize: m.Config.Vision.ImageSize, KeepLast: true,
		Workers: o.Workers, Seed: o.Seed, Shuffle: true})
	if err != nil {
		return err
	}
	total := l.BatchesPerEpoch() * o.Epochs
	headSched, err := optim.NewWarmupCosine(o.LR, 0, min(total/20, 100), total)
	if err != nil {
		return err
	}
	encSched, err := optim.NewWarmupCosine(o.EncoderLR, 0, min(total/20, 100), total)
	if err != nil {
		return err
	}
	step := 0
	for ep := 0; ep < o.Epochs; ep++ {
		it := l.Epoch(ep)
		var sum float64
		seen := 0
		for {
			if err := ctx.Err(); err != nil {
				it.Close()
				return context.Cause(ctx)
			}
			b, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				it.Close()
				return err
			}
			y := make([]int, b.Len())
			for i, k := range b.Indices {
				y[i] = labels[trainIdx[k]]
			}
			x := h.features(m, tensor.FromSlice(b.Images, b.Len(), 3, b.Size, b.Size))
			loss := tensor.CrossEntropy(h.logits(x), y, -1)
			lv := float64(loss.Item())
			if math.IsNaN(lv) || math.IsInf(lv, 0) {
				it.Close()
				return fmt.Errorf("train: probe: epoch %d: loss is %v (lower --lr or --encoder-lr)", ep+1, lv)
			}
			sum += lv * float64(b.Len())
			seen += b.Len()
			tensor.BackwardRelease(loss, nil)
			it.Recycle(b)
			optim.ClipGradNorm(append(append([]*tensor.Tensor(nil), headParams...), encParams...), 1)
			headOpt.Step(headSched.LR(step))
			encOpt.Step(encSched.LR(step))
			headOpt.ZeroGrad()
			encOpt.ZeroGrad()
			step++
		}
		it.Close()
		if bad, _, first := paramsFinite(m); bad > 0 {
			return fmt.Errorf("train: probe: epoch %d: the encoder's weights went non-finite (first in %s); lower --encoder-lr", ep+1, first)
		}
		fmt.Fprintf(o.Log, "probe: epoch %d/%d: training loss %.4f\n", ep+1, o.Epochs, sum/float64(max(seen, 1)))
	}
	return nil
}

// probeTop1 is the top-1 accuracy of h over images idx of ds, overall and
// per class.
func probeTop1(m *coca.Model, h *ProbeHead, ds data.Dataset, idx, labels []int, classes int, o ProbeOptions) (float64, []float64, error) {
	feat, shape, err := encodeAll(m, h, ds, idx, o)
	if err != nil {
		return 0, nil, err
	}
	sc := tensor.NoGrad()
	defer sc.End()
	row := 1
	for _, d := range shape {
		row *= d
	}
	correct := 0
	hit, count := make([]int, classes), make([]int, classes)
	for lo := 0; lo < len(idx); lo += 256 {
		hi := min(lo+256, len(idx))
		lg := h.logits(sc.Use(tensor.FromSlice(feat[lo*row:hi*row], append([]int{hi - lo}, shape...)...))).Data()
		for i := lo; i < hi; i++ {
			r := lg[(i-lo)*classes : (i-lo+1)*classes]
			best := 0
			for c := range r {
				if r[c] > r[best] {
					best = c
				}
			}
			want := labels[idx[i]]
			count[want]++
			if best == want {
				correct++
				hit[want]++
			}
		}
	}
	per := make([]float64, classes)
	for c := range per {
		if count[c] > 0 {
			per[c] = float64(hit[c]) / float64(count[c])
		}
	}
	if len(idx) == 0 {
		return 0, per, errors.New("train: probe: no images to evaluate")
	}
	return float64(correct) / float64(len(idx)), per, nil
}
