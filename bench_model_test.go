package gococa_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tokenizer"
)

// flopCounter wraps a backend and counts the floating-point operations of
// its matrix products and attention (2 per multiply-add), the work that
// dominates a CoCa step.
type flopCounter struct {
	tensor.Backend
	flops float64
}

func (f *flopCounter) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC, batch int) {
	f.flops += 2 * float64(m) * float64(n) * float64(k) * float64(batch)
	f.Backend.Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

func (f *flopCounter) Attention(out, lse, q, k, v []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	f.flops += 4 * float64(b*h*lq*lk*d)
	f.Backend.Attention(out, lse, q, k, v, b, h, lq, lk, d, scale, causal, mask)
}

func (f *flopCounter) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse []float32, b, h, lq, lk, d int, scale float32, causal bool, mask []float32) {
	f.flops += 10 * float64(b*h*lq*lk*d) // recomputed scores + four products
	f.Backend.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, b, h, lq, lk, d, scale, causal, mask)
}

// stridedFlopCounter is a flopCounter for a backend with strided
// attention, counting it too (so that the counted step runs the same
// kernels as the timed ones).
type stridedFlopCounter struct {
	*flopCounter
	sa tensor.StridedAttention
}

func (f stridedFlopCounter) AttentionStrided(a *tensor.AttnArgs) {
	f.flops += 4 * float64(a.B*a.H*a.Lq*a.Lk*a.D)
	f.sa.AttentionStrided(a)
}

func (f stridedFlopCounter) AttentionStridedBackward(a *tensor.AttnArgs, dq, dk, dv, dout []float32) {
	f.flops += 10 * float64(a.B*a.H*a.Lq*a.Lk*a.D)
	f.sa.AttentionStridedBackward(a, dq, dk, dv, dout)
}

// countFlops returns a backend counting the FLOPs of b's matrix work, and
// the counter.
func countFlops(b tensor.Backend) (tensor.Backend, *flopCounter) {
	fc := &flopCounter{Backend: b}
	if sa, ok := b.(tensor.StridedAttention); ok {
		return stridedFlopCounter{fc, sa}, fc
	}
	return fc, fc
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or 0
// where /proc is not available.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

type modelCase struct {
	config    string
	batch     int
	image     int    // image size in pixels; 0 keeps the config's
	precision string // "" (float32) or "bf16" (GOCOCA_BENCH_PRECISION)
	text      string // "" (random ids, no padding) or "prompts" (GOCOCA_BENCH_TEXT)
	weights   string // "" (float32) or "bf16" (GOCOCA_BENCH_WEIGHTS: QuantizeBF16)
}

func (c modelCase) String() string {
	n := fmt.Sprintf("config=%s/batch=%d", c.config, c.batch)
	if c.image > 0 {
		n += fmt.Sprintf("/image=%d", c.image)
	}
	if c.precision != "" {
		n += "/precision=" + c.precision
	}
	if c.text != "" {
		n += "/text=" + c.text
	}
	if c.weights != "" {
		n += "/weights=" + c.weights
	}
	return n
}

var defaultModelCases = []modelCase{{config: "coca_ViT-B-32", batch: 8}, {config: "coca_shapes", batch: 64}}

// benchText returns the texts the model benchmarks feed, as
// GOCOCA_BENCH_TEXT names them: "" (unset) random ids over the whole
// context, no padding; "prompts" the zero-shot prompts of
// scripts/onnx/prompts.txt (OpenAI's ImageNet templates filled with class
// names, 7 to 12 ids, the rest of the context padding, as open_clip's
// tokenizer pads them), cycled to the batch, captions of the same length
// for a training step.
func benchText(b *testing.B) string { return benchOption(b, "GOCOCA_BENCH_TEXT", "prompts") }

// benchWeights returns the weights the inference benchmarks run with, as
// GOCOCA_BENCH_WEIGHTS names them: "" (unset) float32; "bf16" the model
// QuantizeBF16 makes (the text stacks' matrices kept in bfloat16 only,
// the others rounded), as `--weights bf16` loads it; with
// GOCOCA_BENCH_PRECISION=bf16 also marked for bfloat16 products
// (SetPrecision), which keeps the vision tower's matrices in bfloat16
// too, as `--weights bf16 --precision bf16` loads it.
func benchWeights(b *testing.B) string { return benchOption(b, "GOCOCA_BENCH_WEIGHTS", "bf16") }

// benchOption returns the environment variable name, which must be unset,
// empty or value.
func benchOption(b *testing.B, name, value string) string {
	v := os.Getenv(name)
	if v != "" && v != value {
		b.Fatalf("%s=%q: want %s or nothing", name, v, value)
	}
	return v
}

// modelCases are the cases the model benchmarks run: the defaults, or those
// GOCOCA_BENCH_MODELS lists as comma-separated config:batch[:image] (e.g.
// "coca_ViT-B-32:16:288"), which scripts/bench_scaling.sh uses; each at
// the precision GOCOCA_BENCH_PRECISION names (see benchPrecision), with
// the weights GOCOCA_BENCH_WEIGHTS names (see benchWeights).
func modelCases(b *testing.B) []modelCase {
	prec, text, weights := benchPrecision(b), benchText(b), benchWeights(b)
	env := os.Getenv("GOCOCA_BENCH_MODELS")
	if env == "" {
		cs := append([]modelCase(nil), defaultModelCases...)
		for i := range cs {
			cs[i].precision, cs[i].text, cs[i].weights = prec, text, weights
		}
		return cs
	}
	var cs []modelCase
	for _, f := range strings.Split(env, ",") {
		p := strings.Split(strings.TrimSpace(f), ":")
		c := modelCase{config: p[0], precision: prec, text: text, weights: weights}
		var err error
		if len(p) < 2 || len(p) > 3 {
			err = fmt.Errorf("want config:batch[:image]")
		} else if c.batch, err = strconv.Atoi(p[1]); err == nil && len(p) == 3 {
			c.image, err = strconv.Atoi(p[2])
		}
		if err != nil {
			b.Fatalf("GOCOCA_BENCH_MODELS entry %q: %v", f, err)
		}
		cs = append(cs, c)
	}
	return cs
}

// benchInputs is one case's model and inputs.
type benchInputs struct {
	c    modelCase
	m    *coca.Model
	img  *tensor.Tensor
	text []int
	l    int

	stepFlops float64 // counted FLOPs of one training step, once measured
}

// lastInputs caches the most recent case: the testing package runs each
// benchmark once with b.N = 1 before the timed run, and TrainStep,
// EncodeImage and EncodeText share a case, so a model is built once.
var lastInputs *benchInputs

func benchModel(b *testing.B, c modelCase) (*coca.Model, *tensor.Tensor, []int, int) {
	if in := lastInputs; in != nil && in.c == c {
		return in.m, in.img, in.text, in.l
	}
	if lastInputs != nil {
		// Another case: let its model and pooled buffers go, so that this
		// case's peak RSS is its own.
		lastInputs = nil
		tensor.DropPool()
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
	}
	cfg, err := coca.Builtin(c.config)
	if err != nil {
		b.Fatal(err)
	}
	if c.config == "coca_shapes" { // the vocabulary and context `coca train` fits on the built-in data
		cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 577, 577
		cfg.Text.ContextLength, cfg.Multimodal.ContextLength = 12, 12
	}
	if c.image > 0 {
		cfg.Vision.ImageSize = c.image
		if err := cfg.Validate(); err != nil {
			b.Fatalf("%v: %v", c, err)
		}
	}
	m := coca.New(cfg)
	m.Init(1)
	if c.weights == "bf16" {
		m.QuantizeBF16()
		if c.precision == "bf16" {
			// As --weights bf16 --precision bf16 opens it: the vision
			// tower's matrices in bfloat16 too.
			if err := m.SetPrecision(tensor.PrecisionBF16); err != nil {
				b.Fatal(err)
			}
		}
	}
	g := tensor.NewRNG(2)
	s := cfg.Vision.ImageSize
	img := tensor.New(c.batch, 3, s, s)
	g.Normal(img, 0, 1)
	l := cfg.Text.ContextLength
	text := make([]int, c.batch*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	if c.text == "prompts" {
		src, err := os.ReadFile("scripts/onnx/prompts.txt")
		if err != nil {
			b.Fatal(err)
		}
		prompts := strings.Split(strings.TrimSpace(string(src)), "\n")
		tok := tokenizer.New()
		text = text[:0]
		for i := range c.batch {
			text = append(text, tok.Tokenize(prompts[i%len(prompts)], l)...)
		}
		for _, id := range text {
			if id >= cfg.Text.VocabSize {
				b.Fatalf("%v: token id %d past the vocabulary of %d", c, id, cfg.Text.VocabSize)
			}
		}
	}
	lastInputs = &benchInputs{c: c, m: m, img: img, text: text, l: l}
	return m, img, text, l
}

// profileSteps starts a CPU profile of the timed steps alone (no model
// construction or warm-up) when GOCOCA_BENCH_CPUPROFILE names a file; the
// returned function stops it. Each run of the benchmark overwrites the
// file, so it holds the last (the timed) run.
func profileSteps(b *testing.B) (stop func()) {
	name := os.Getenv("GOCOCA_BENCH_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("GOCOCA_BENCH_CPUPROFILE: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// resetPeakRSS restarts the kernel's peak-RSS count (VmHWM) from the
// current RSS, where /proc allows it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkTrainStep times forward + both losses + backward (releasing
// buffers as it goes) of one batch (no optimizer), reporting s/step,
// GFLOP/s of the counted matrix and attention work, the process's peak RSS,
// the peak of pooled buffers (activations and intermediate gradients) and
// the Go heap allocated per step (B/op).
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range modelCases(b) {
		b.Run(c.String(), func(b *testing.B) {
			defer usePrecision(c)()
			if testing.Short() && c.config == "coca_ViT-B-32" {
				b.Skip("coca_ViT-B-32 skipped in -short mode")
			}
			if c.weights != "" {
				b.Skip("bfloat16 weights serve inference only (GOCOCA_BENCH_WEIGHTS)")
			}
			m, img, text, l := benchModel(b, c)
			step := func() {
				out := m.Forward(img, text, c.batch, l)
				loss := m.Loss(out, text, c.batch, l, coca.DefaultLossWeights)
				tensor.BackwardRelease(loss.Total, nil)
			}
			in := lastInputs
			if in.stepFlops == 0 {
				wrapped, counter := countFlops(tensor.CurrentBackend())
				old := tensor.SetBackend(wrapped)
				step() // warm-up, and one step's FLOPs
				tensor.SetBackend(old)
				in.stepFlops = counter.flops
			}
			perStep := in.stepFlops
			tensor.ResetPoolPeak()
			stop := profileSteps(b)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, signs0 := cpuSeconds(), asm.ContentionSigns()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.StopTimer()
			stop()
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/step")
			// CPU time per step (all threads): steadier than s/step on a
			// shared machine, and s/step × GOMAXPROCS when no thread idles.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/step")
			b.ReportMetric(perStep/sec/1e9, "GFLOP/s")
			// Signs of contention (asm.ContentionSigns): on an idle
			// machine, false ones, each of which ran the pool on one
			// goroutine for a while.
			b.ReportMetric(float64(asm.ContentionSigns()-signs0)/float64(b.N), "contention-signs/step")
			b.ReportMetric(peakRSS(), "peak-RSS-bytes")
			// Activations, intermediate gradients and scratch at their peak.
			b.ReportMetric(float64(tensor.PoolPeakBytes()), "peak-pool-bytes")
		})
	}
}

// BenchmarkEncodeImage times EncodeImage of one batch without gradients.
func BenchmarkEncodeImage(b *testing.B) {
	benchEncodeImage(b, func(m *coca.Model, img *tensor.Tensor) { m.EncodeImage(img) })
}

// BenchmarkEncodeImageFeatures times EncodeImageFeatures (the features
// alone, as open_clip's encode_image returns them) of one batch.
func BenchmarkEncodeImageFeatures(b *testing.B) {
	benchEncodeImage(b, func(m *coca.Model, img *tensor.Tensor) { m.EncodeImageFeatures(img) })
}

// benchEncodeImage times encode of one batch of images per model case.
func benchEncodeImage(b *testing.B, encode func(m *coca.Model, img *tensor.Tensor)) {
	for _, c := range modelCases(b) {
		b.Run(c.String(), func(b *testing.B) {
			defer usePrecision(c)()
			m, img, _, _ := benchModel(b, c)
			encode(m, img)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				encode(m, img)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/batch")
		})
	}
}

// BenchmarkClassEmbeddings times zero-shot class embeddings of eight
// classes with OpenAI's 80 ImageNet templates (640 prompts, batches of 64,
// as Pipeline.NewClassifier encodes them), tokenized to the context length.
func BenchmarkClassEmbeddings(b *testing.B) {
	classes := []string{"tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark", "electric ray", "stingray", "rooster"}
	tok := tokenizer.New()
	for _, c := range modelCases(b) {
		b.Run(c.String(), func(b *testing.B) {
			defer usePrecision(c)()
			m, _, _, l := benchModel(b, c)
			tokenize := func(s string) []int { return tok.Tokenize(s, l) }
			if _, err := m.ClassEmbeddings(classes, coca.OpenAIImageNetTemplates, tokenize, 64); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				m.ClassEmbeddings(classes, coca.OpenAIImageNetTemplates, tokenize, 64)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

// BenchmarkEncodeText times EncodeText of one batch without gradients.
func BenchmarkEncodeText(b *testing.B) {
	for _, c := range modelCases(b) {
		b.Run(c.String(), func(b *testing.B) {
			defer usePrecision(c)()
			m, _, text, l := benchModel(b, c)
			m.EncodeText(text, c.batch, l)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				m.EncodeText(text, c.batch, l)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/batch")
		})
	}
}
