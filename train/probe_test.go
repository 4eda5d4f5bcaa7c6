package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
)

// TestEncoderTokens: the tokens a probe reads are the ones the model's own
// contrastive pooler reads: pooling them as the model does gives
// EncodeImage's features (legacy and parallel pooler layouts).
func TestEncoderTokens(t *testing.T) {
	sc := tensor.NoGrad()
	defer sc.End()
	for _, name := range []string{"coca_tiny", "coca_shapes"} {
		cfg, _ := coca.Builtin(name)
		cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 600, 600
		m := coca.New(cfg)
		m.Init(5)
		s := cfg.Vision.ImageSize
		img := make([]float32, 2*3*s*s)
		for i := range img {
			img[i] = float32(math.Sin(float64(i)))
		}
		images := sc.Use(tensor.FromSlice(img, 2, 3, s, s))
		want, _ := m.EncodeImage(images)
		x := EncoderTokens(m, images)
		if x.Dim(1) != cfg.Grid()*cfg.Grid()+1 || x.Dim(2) != cfg.Vision.Width {
			t.Fatalf("%s: tokens %v", name, x.Shape())
		}
		var pooled *tensor.Tensor
		if cfg.Vision.AttentionalPool == coca.PoolLegacy {
			p := m.Visual.LnPost.Forward(m.Visual.AttnPool.Forward(x))
			pooled = tensor.Reshape(tensor.Slice(p, 1, 0, 1), 2, p.Dim(2))
		} else {
			p := m.Visual.AttnPoolContrastive.Forward(x)
			pooled = tensor.Reshape(p, 2, p.Dim(2))
		}
		got := tensor.Normalize(tensor.MatMul(pooled, m.Visual.Proj, false, false), 1e-12)
		for i, v := range want.Data() {
			if got.Data()[i] != v {
				t.Fatalf("%s: feature %d: pooled encoder tokens give %v, EncodeImage %v", name, i, got.Data()[i], v)
			}
		}
	}
}

// TestProbe trains linear and attentional heads (frozen, and linear with
// the encoder finetuned) on a labelled folder of synthetic images by colour
// (6 classes, chance 1/6) over a randomly initialised coca_tiny encoder,
// saves and reloads them, and checks that a reloaded head classifies the
// held-out images as the trained one did. (Shapes need a trained encoder:
// the README's probe figures come from a coca_shapes model.)
func TestProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three probes")
	}
	dir := t.TempDir()
	folder := filepath.Join(dir, "colours")
	classes, err := data.WriteSynthFolder(folder, data.SynthFolderOptions{Label: "colour", PerClass: 40, ImageSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if len(classes) != 6 || classes[0] != "red" {
		t.Fatalf("classes %v", classes)
	}
	ds, err := data.OpenImageFolder(folder, data.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 240 {
		t.Fatalf("%d images", ds.Len())
	}
	cfg, _ := coca.Builtin("coca_tiny")
	m := coca.New(cfg)
	m.Init(1)
	before := append([]float32(nil), m.Visual.Proj.Data()...)
	for _, c := range []struct {
		head     string
		finetune bool
		min      float64 // measured 0.792, 0.938 and 0.771 (2 threads); chance 0.167
	}{
		{ProbeLinear, false, 0.6},
		{ProbeAttentional, false, 0.8},
		{ProbeLinear, true, 0.7},
	} {
		o := ProbeOptions{Head: c.head, Epochs: 60, Seed: 1, Finetune: c.finetune}
		if c.finetune {
			o.Epochs = 8
		}
		res, err := TrainProbe(context.Background(), m, ds, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (finetune %v): train top-1 %.3f, held-out top-1 %.3f (%d/%d images), per class %.2f, %v",
			c.head, c.finetune, res.TrainTop1, res.HeldOutTop1, res.Train, res.HeldOut, res.PerClass, res.Elapsed)
		if res.HeldOut != 48 || res.Train != 192 {
			t.Fatalf("split %d/%d, want 192/48", res.Train, res.HeldOut)
		}
		if res.HeldOutTop1 < c.min {
			t.Errorf("%s: held-out top-1 %.3f < %.2f", c.head, res.HeldOutTop1, c.min)
		}
		path := filepath.Join(dir, c.head+".safetensors")
		if err := res.Head.Save(path, res.HeldOutTop1); err != nil {
			t.Fatal(err)
		}
		h, err := LoadProbe(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Check(m); err != nil {
			t.Fatal(err)
		}
		if c.finetune != (len(h.Encoder) > 0) {
			t.Fatalf("finetune %v but %d encoder tensors saved", c.finetune, len(h.Encoder))
		}
		// The reloaded head, on a fresh copy of the model with the head's
		// encoder applied, reproduces the held-out top-1.
		m2 := coca.New(cfg)
		m2.Init(1)
		if err := h.Apply(m2); err != nil {
			t.Fatal(err)
		}
		_, held := splitFolder(ds.Labels(), 6, 0.2, 1)
		top1, _, err := probeTop1(m2, h, ds, held, ds.Labels(), 6, ProbeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if top1 != res.HeldOutTop1 {
			t.Fatalf("reloaded head: held-out top-1 %.3f, trained %.3f", top1, res.HeldOutTop1)
		}
	}
	if m.Visual.Proj.Data()[0] == before[0] {
		t.Fatalf("finetuning left the encoder unchanged")
	}
}

// TestProbeFilesAndErrors: a head file that is not one, or one of another
// model's width, fails naming the problem; a folder without classes or
// with an empty class is refused.
func TestProbeFilesAndErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadProbe(filepath.Join("testdata", "init", "model.bin")); err == nil {
		t.Fatal("a .bin loads as a probe")
	}
	cfg, _ := coca.Builtin("coca_tiny")
	h := newProbeHead(ProbeAttentional, []string{"a", "b"}, cfg, 1)
	path := filepath.Join(dir, "h.safetensors")
	if err := h.Save(path, 0.5); err != nil {
		t.Fatal(err)
	}
	big, _ := coca.Builtin("coca_shapes")
	if _, err := LoadProbe(path); err != nil {
		t.Fatal(err)
	}
	if err := h.Check(coca.New(big)); err == nil || !strings.Contains(err.Error(), "vision width is 64") {
		t.Fatalf("width mismatch: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "f", "cats"), 0o755)
	os.MkdirAll(filepath.Join(dir, "f", "dogs"), 0o755)
	os.WriteFile(filepath.Join(dir, "f", "cats", "a.png"), nil, 0o644)
	if _, err := data.OpenImageFolder(filepath.Join(dir, "f"), data.ImageOptions{}); err == nil || !strings.Contains(err.Error(), `class "dogs" has no image`) {
		t.Fatalf("empty class: %v", err)
	}
	if _, err := data.OpenImageFolder(filepath.Join(dir, "f", "cats"), data.ImageOptions{}); err == nil || !strings.Contains(err.Error(), "no class subdirectories") {
		t.Fatalf("no classes: %v", err)
	}
}
