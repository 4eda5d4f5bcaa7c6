//go:build cuda && cgo

package cuda

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor"
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
// backend.
func vitB32(t *testing.T) *coca.Model {
	cfg, err := coca.Builtin("coca_ViT-B-32")
	if err != nil {
		t.Fatal(err)
	}
	m := coca.New(cfg)
	m.Init(1)
	return m
}

// TestStepCounts counts one training step of coca_ViT-B-32 at batch 8 as
// train.Run runs it: images from Go memory, forward, both losses read on
// the host, backward, gradient clipping at 1, AdamW, the logit-scale
// clamp, zeroing the gradients; the second step, once the allocator's
// cache is warm.
func TestStepCounts(t *testing.T) {
	b := emu(t)
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	defer setEmuSkipGEMM(setEmuSkipGEMM(true))
	m := vitB32(t)
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
	step := func() {
		img := tensor.FromSlice(images, batch, 3, s, s)
		out := m.Forward(img, text, batch, l)
		loss := m.Loss(out, text, batch, l, coca.DefaultLossWeights)
		total, con, capt = loss.Total.Item(), loss.Contrastive.Item(), loss.Caption.Item()
		tensor.BackwardRelease(loss.Total, nil)
		optim.ClipGradNorm(params, 1)
		opt.Step(1e-4)
		optim.ClampLogitScale(m.LogitScale)
		opt.ZeroGrad()
	}
	step()
	st, sites := measure(t, step)
	logFigures(t, fmt.Sprintf("coca_ViT-B-32 training step, batch %d, AdamW, clip 1, %s memory", batch, memoryName(b.d.alloc.managed)), st, sites)
	t.Logf("losses (GEMMs skipped, so not meaningful): %v %v %v; %d parameters", total, con, capt, len(params))
	imageBytes := int64(4 * len(images))
	if st.HtoDBytes < imageBytes {
		t.Errorf("%d bytes copied to the device, fewer than the batch's %d bytes of images", st.HtoDBytes, imageBytes)
	}
}

// TestCaptionCounts counts a 20-token caption of one image with the
// key/value-cached decoder of coca_ViT-B-32.
func TestCaptionCounts(t *testing.T) {
	b := emu(t)
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	defer setEmuSkipGEMM(setEmuSkipGEMM(true))
	m := vitB32(t)
	cfg := m.Config
	s := cfg.Vision.ImageSize
	img := tensor.New(1, 3, s, s)
	tensor.NewRNG(3).Normal(img, 0, 1)
	const tokens = 20
	caption := func() {
		_, imageTokens := m.EncodeImage(img)
		dec := m.NewDecoder(imageTokens, tokens)
		tok := cfg.Text.VocabSize - 2 // the start token
		for range tokens {
			logits := dec.Step([]int{tok})
			tok = argmaxOf(logits)
		}
	}
	caption()
	st, sites := measure(t, caption)
	logFigures(t, fmt.Sprintf("coca_ViT-B-32 cached caption of %d tokens, %s memory", tokens, memoryName(b.d.alloc.managed)), st, sites)
	t.Logf("per token: %.1f host syncs, %.0f host page faults", float64(st.Syncs)/tokens, float64(st.HostFaults)/tokens)
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
