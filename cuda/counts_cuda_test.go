//go:build cuda && cgo

package cuda

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/train"
)

// The emulator's figures for a training step and a cached caption (issue
// 19): host synchronisations, host↔device bytes and host accesses to
// device memory. They only exist on the CPU emulator (TestEmulator runs
// these tests there); the GEMMs are skipped while counting (they change no
// figure, and the emulated GEMM of coca_ViT-B-32 would take an hour).

// emu returns the GPU backend when it is the CPU emulator, else skips.
func emu(t *testing.T) *Backend {
	t.Helper()
	b := gpu(t)
	if _, ok := readEmuStats(); !ok {
		t.Skip("not the CPU emulator: no counters")
	}
	return b
}

// emuMemories returns the emulator's GPU 0 as New opens it (managed memory
// unless GOCOCA_CUDA_MEMORY says otherwise) and GPU 1 with the other kind
// of memory, managed first: the figures are counted for both.
func emuMemories(t *testing.T) []*Backend {
	t.Helper()
	b := emu(t)
	other := "device"
	if !b.d.alloc.managed {
		other = "managed"
	}
	o, err := New(Options{Math: "fp32", Device: 1, Memory: other})
	if err != nil {
		t.Fatalf("the emulator's GPU 1 with %s memory: %v", other, err)
	}
	bs := []*Backend{b, o.(*Backend)}
	if !b.d.alloc.managed {
		bs[0], bs[1] = bs[1], bs[0]
	}
	return bs
}

// measure returns the emulator's figures for f, and where the host
// touched device memory.
func measure(t *testing.T, f func()) (emuStats, []string) {
	t.Helper()
	resetEmuSites()
	before, _ := readEmuStats()
	f()
	after, _ := readEmuStats()
	d := after.Sub(before)
	if d.FaultOverflow != 0 {
		t.Fatalf("the emulator lost track of %d pages the host opened: the figures are void", d.FaultOverflow)
	}
	return d, siteNames(readEmuSites())
}

// siteNames names each site by its first frames outside the runtime and
// this package, with its page-fault count, largest first.
func siteNames(sites []emuSite) []string {
	counts := map[string]int64{}
	for _, s := range sites {
		var names []string
		for i, pc := range s.PCs {
			if i > 0 {
				pc-- // a return address: the call is the instruction before
			}
			f := runtime.FuncForPC(pc)
			if f == nil {
				continue
			}
			n := f.Name()
			n = n[strings.LastIndex(n, "/")+1:]
			if strings.HasPrefix(n, "runtime.") || strings.HasPrefix(n, "cuda.") || strings.HasPrefix(n, "testing.") ||
				(len(names) > 0 && names[len(names)-1] == n) {
				continue
			}
			names = append(names, n)
			if len(names) == 3 {
				break
			}
		}
		if len(names) == 0 {
			names = []string{"(unknown)"}
		}
		counts[strings.Join(names, " ← ")] += s.Count
	}
	var out []string
	for k, v := range counts {
		out = append(out, fmt.Sprintf("%8d  %s", v, k))
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func logFigures(t *testing.T, what string, s emuStats, sites []string) {
	t.Helper()
	t.Logf("%s: %v", what, s)
	if len(sites) > 0 {
		t.Logf("%s: host page faults by site:\n%s", what, strings.Join(sites, "\n"))
	}
}

// vitB32 builds coca_ViT-B-32 with initialised parameters on the current
// backend. Unless GOCOCA_COUNT_FULL=1 its widths, image size, vocabulary
// and context are narrowed (the layers, parameters and kernel calls are
// the same, so are the synchronisations; the byte and page counts scale):
// the emulator takes an hour for the full model on a busy machine.
func vitB32(t *testing.T) (*coca.Model, string) {
	cfg, err := coca.Builtin("coca_ViT-B-32")
	if err != nil {
		t.Fatal(err)
	}
	name := "coca_ViT-B-32"
	if os.Getenv("GOCOCA_COUNT_FULL") != "1" {
		name += " (narrowed: image 64, widths 64, vocabulary 512, context 32)"
		cfg.Vision.ImageSize, cfg.Vision.Width, cfg.Vision.HeadWidth = 64, 64, 32
		cfg.Vision.AttnPoolerQueries, cfg.Vision.AttnPoolerHeads = 8, 2
		cfg.EmbedDim = 64
		cfg.Text.Width, cfg.Text.Heads, cfg.Text.VocabSize, cfg.Text.ContextLength = 64, 2, 512, 32
		cfg.Multimodal.Width, cfg.Multimodal.Heads, cfg.Multimodal.VocabSize, cfg.Multimodal.ContextLength = 64, 2, 512, 32
	}
	m := coca.New(cfg)
	m.Init(1)
	return m, name
}

// TestStepCounts counts one training step of coca_ViT-B-32 at batch 8 as
// train.Run runs it: images from Go memory, forward, both losses read on
// the host, backward, gradient clipping at 1, AdamW, the logit-scale
// clamp, zeroing the gradients; the second step, once the allocator's
// cache is warm.
func TestStepCounts(t *testing.T) {
	for _, b := range emuMemories(t) {
		t.Run(memoryName(b.d.alloc.managed), func(t *testing.T) { stepCounts(t, b) })
	}
}

func stepCounts(t *testing.T, b *Backend) {
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	defer setEmuSkipGEMM(setEmuSkipGEMM(true))
	m, name := vitB32(t)
	cfg := m.Config
	const batch = 8
	s, l := cfg.Vision.ImageSize, cfg.Text.ContextLength
	g := tensor.NewRNG(2)
	images := make([]float32, batch*3*s*s) // Go memory, as a data loader hands it over
	for i := range images {
		images[i] = float32(g.IntN(255))/127.5 - 1
	}
	text := make([]int, batch*l)
	for i := range text {
		text[i] = 1 + g.IntN(cfg.Text.VocabSize-1)
	}
	var params []*tensor.Tensor
	for _, p := range m.Params() {
		params = append(params, p.Tensor)
	}
	opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	var total, con, capt float32
	var loss coca.Losses
	forward := func() {
		img := tensor.FromSlice(images, batch, 3, s, s)
		out := m.Forward(img, text, batch, l)
		loss = m.Loss(out, text, batch, l, coca.DefaultLossWeights)
		v := tensor.Items(loss.Total, loss.Contrastive, loss.Caption) // as train.Run reads them
		total, con, capt = v[0], v[1], v[2]
	}
	backward := func() { tensor.BackwardRelease(loss.Total, nil) }
	update := func() {
		optim.ClipGradNorm(params, 1)
		opt.Step(1e-4)
		optim.ClampLogitScale(m.LogitScale)
		opt.ZeroGrad()
	}
	forward()
	backward()
	update()
	mem := memoryName(b.d.alloc.managed)
	what := fmt.Sprintf("%s training step, batch %d, AdamW, clip 1, %s memory", name, batch, mem)
	var st emuStats
	var sites []string
	for _, phase := range []struct {
		name string
		f    func()
	}{{"forward and losses read", forward}, {"backward", backward}, {"optimizer", update}} {
		p, ps := measure(t, phase.f)
		logFigures(t, what+": "+phase.name, p, ps)
		st = st.add(p)
		sites = append(sites, ps...)
		if phase.name == "optimizer" {
			// clipping (the norm read on the host), AdamW, the clamp and
			// zeroing: one call each, no host access to device memory;
			// with managed memory each call also waits for the GPU.
			limit := int64(1)
			if b.d.alloc.managed {
				limit = 6
			}
			if p.Syncs > limit || p.HostFaults != 0 || p.HtoDBytes != 0 {
				t.Errorf("optimizer phase: %d host syncs (want ≤ %d with %s memory), %d host page faults, %d bytes to the device (want 0, 0)",
					p.Syncs, limit, mem, p.HostFaults, p.HtoDBytes)
			}
		}
	}
	logFigures(t, what, st, nil)
	t.Logf("losses (GEMMs skipped, so not meaningful): %v %v %v; %d parameters", total, con, capt, len(params))
	// With device memory the host waits twice, where it reads a value: the
	// three losses (one copy, Items) and the gradient norm (clipping); the
	// text mask, the losses, the backward seed and the optimizer stay on
	// the device, so the host never touches device memory.
	if !b.d.alloc.managed && (st.Syncs > 2 || st.HostFaults != 0) {
		t.Errorf("%d host syncs and %d host page faults in a step with device memory, want at most 2 and 0",
			st.Syncs, st.HostFaults)
	}
	// To the device go the images (once) and the token ids, once, as
	// int32 (tensor.IDs): the embedding and its gradient, the text mask,
	// the caption labels (derived there) and the contrastive targets
	// (written there) read them on the device. Measured: 393,216 + 1,024
	// bytes narrowed, 4,816,896 + 2,432 for the full model.
	imageBytes, tokenBytes := int64(4*len(images)), int64(4*batch*l)
	if st.HtoDBytes != imageBytes+tokenBytes {
		t.Errorf("%d bytes copied to the device; want the batch's %d bytes of images and %d of token ids, %d",
			st.HtoDBytes, imageBytes, tokenBytes, imageBytes+tokenBytes)
	}
	t.Logf("host to device: %d bytes = images %d + token ids %d", st.HtoDBytes, imageBytes, tokenBytes)
}

// TestCaptionCounts counts a 20-token caption of one image with the
// key/value-cached decoder of coca_ViT-B-32 as Model.Generate runs it: the
// image encoded, its tokens handed to the decoder on the device, one Step
// per token, each step's logits read on the host once. (Generate itself
// needs meaningful logits, which skipped GEMMs do not give.)
func TestCaptionCounts(t *testing.T) {
	for _, b := range emuMemories(t) {
		t.Run(memoryName(b.d.alloc.managed), func(t *testing.T) { captionCounts(t, b) })
	}
}

func captionCounts(t *testing.T, b *Backend) {
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	defer setEmuSkipGEMM(setEmuSkipGEMM(true))
	m, name := vitB32(t)
	cfg := m.Config
	s := cfg.Vision.ImageSize
	img := tensor.New(1, 3, s, s)
	tensor.NewRNG(3).Normal(img, 0, 1)
	const tokens = 20
	steps := tokens
	caption := func() {
		// As Model.Generate runs it: the image's tokens stay on the device.
		sc := tensor.NoGrad()
		defer sc.End()
		lat, imageTokens := m.Visual.Forward(sc.Use(img))
		tensor.Drop(lat)
		dec := m.NewDecoder(imageTokens, tokens)
		tensor.Drop(imageTokens)
		defer dec.Close()
		tok := cfg.Text.VocabSize - 2 // the start token
		for range tokens {
			logits := dec.Step([]int{tok})
			tok = argmaxOf(logits)
		}
	}
	caption()
	inUse0, _, _, _ := b.MemoryStats()
	st, sites := measure(t, caption)
	inUse1, _, _, _ := b.MemoryStats()
	logFigures(t, fmt.Sprintf("%s cached caption of %d tokens, %s memory", name, steps, memoryName(b.d.alloc.managed)), st, sites)
	t.Logf("per token: %.2f host syncs, %.2f host page faults; device memory in use grew by %d bytes over the caption",
		float64(st.Syncs)/float64(steps), float64(st.HostFaults)/float64(steps), inUse1-inUse0)
	// Only the token ids go to the device: the image is there already,
	// and its tokens stay there.
	if want := int64(4 * steps); st.HtoDBytes != want {
		t.Errorf("%d bytes copied to the device for a %d-token caption of an image on the device, want the ids' %d",
			st.HtoDBytes, steps, want)
	}
	if !b.d.alloc.managed && (st.Syncs > int64(steps) || st.HostFaults != 0) {
		t.Errorf("%d host syncs and %d host page faults for %d tokens with device memory: want at most one sync per token (its logits read), no fault",
			st.Syncs, st.HostFaults, steps)
	}
	if inUse1 != inUse0 {
		t.Errorf("device memory in use grew by %d bytes over a caption", inUse1-inUse0)
	}
}

func argmaxOf(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestRunCounts counts the steps of train.Run itself (coca_tiny, batch 8,
// AdamW, clip 1, the synthetic data; the emulator runs its GEMMs) with
// device memory: the steps a run of 6 takes beyond a run of 3 with the
// same settings (no evaluation, a checkpoint and a log line at the end
// only), so what a step costs in a real run: the images and ids copied
// in, the losses and the gradient norm read, the guard's count of the
// last update read with the losses, and the host touching no device
// memory. The edges are measured too: a run's setup, last step,
// checkpoint and final report.
func TestRunCounts(t *testing.T) {
	b := gpu(t)
	if _, ok := readEmuStats(); !ok {
		t.Skip("not the CPU emulator: no counters")
	}
	if b.d.alloc.managed {
		t.Skip("managed memory (GOCOCA_CUDA_MEMORY=managed): the figures are for device memory")
	}
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	const batch = 8
	run := func(steps int, dir string, resume bool) emuStats {
		if dir == "" {
			dir = t.TempDir()
		}
		o := train.Options{Out: dir, Config: "coca_tiny", Steps: steps, BatchSize: batch, EvalEvery: 0,
			SaveEvery: 1000, LogEvery: 1000, ClipNorm: 1, Workers: 1, Seed: 5, Progress: io.Discard, Log: io.Discard, Resume: resume,
			Explicit: map[string]bool{"eval-every": true}} // 0: no evaluation
		st, sites := measure(t, func() {
			if _, err := train.Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		})
		logFigures(t, fmt.Sprintf("train.Run, coca_tiny, %d steps of batch %d, device memory", steps, batch), st, sites)
		return st
	}
	dir := t.TempDir()
	short, long := run(3, "", false), run(6, dir, false)
	d := long.Sub(short)
	per := func(v int64) float64 { return float64(v) / 3 }
	t.Logf("per step of train.Run (6 steps − 3 steps, / 3): %.2f host syncs, %.0f B to the device in %.2f copies, %.0f B back in %.2f copies, %.2f host page faults (%.2f on device memory)",
		per(d.Syncs), per(d.HtoDBytes), per(d.HtoDCalls), per(d.DtoHBytes), per(d.DtoHCalls), per(d.HostFaults), per(d.DeviceFaults))
	t.Logf("edges of a run (a 3-step run less its 3 steps: setup, the last step's log line, checkpoint, model and report): %v", short.Sub(d))
	cfg, err := coca.Builtin("coca_tiny")
	if err != nil {
		t.Fatal(err)
	}
	s, l := cfg.Vision.ImageSize, cfg.Text.ContextLength
	images, ids := int64(4*batch*3*s*s), int64(4*batch*l)
	// Two waits a step: the losses with the guard's count of the last
	// update (one copy), and the gradient norm.
	if d.Syncs != 2*3 || d.HostFaults != 0 || d.DeviceFaults != 0 || d.HtoDBytes != 3*(images+ids) {
		t.Errorf("a step of train.Run: %.2f host syncs (want 2), %.2f host page faults (want 0), %.0f B to the device (want images %d + ids %d)",
			per(d.Syncs), per(d.HostFaults), per(d.HtoDBytes), images, ids)
	}

	// The other paths of a run and of the model it wrote, with device
	// memory (gpu fails the test where the host touches it): resuming
	// from the checkpoint with evaluations (retrieval, zero-shot,
	// captions), then the pipeline's captions, embeddings, zero-shot
	// classification, caption scores and retrieval scores.
	rdir := t.TempDir()
	o := train.Options{Out: rdir, Config: "coca_tiny", Steps: 4, StopAt: 2, BatchSize: batch, EvalEvery: 1, HeldOut: 16, SaveEvery: 1,
		LogEvery: 1, ClipNorm: 1, Workers: 1, Seed: 5, Progress: io.Discard, Log: io.Discard}
	if _, err := train.Run(context.Background(), o); err != nil {
		t.Fatalf("training to step 2 of 4 on the GPU: %v", err)
	}
	o.StopAt, o.Resume = 0, true
	if _, err := train.Run(context.Background(), o); err != nil {
		t.Fatalf("resuming on the GPU: %v", err)
	}
	p, err := coca.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	ctx := context.Background()
	if _, err := p.Caption(ctx, img); err != nil {
		t.Fatal(err)
	}
	e, err := p.Embed(ctx, img, img)
	if err != nil {
		t.Fatal(err)
	}
	te, err := p.EmbedTexts(ctx, "a red square", "a blue circle")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Classify(ctx, img, []string{"square", "circle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Score(ctx, img, "a red square", "a blue circle"); err != nil {
		t.Fatal(err)
	}
	dim := len(e[0])
	stored := append(append([]float32(nil), te[0]...), te[1]...)
	sim := tensor.MatMul(tensor.FromSlice(e[0], 1, dim), tensor.FromSlice(stored, 2, dim), false, true) // as coca retrieve ranks
	scores := make([]float32, 2)
	tensor.CopyOut(scores, sim.Data())
	tensor.Release(sim)
	t.Logf("resumed with evaluations, then captioned, embedded, classified, scored and retrieved (scores %v) on the GPU", scores)
}
