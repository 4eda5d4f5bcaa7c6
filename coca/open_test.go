package coca

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tokenizer"
)

// Fixtures of other packages (open_clip's tiny CoCa and its torch.save
// copy; see golden/README.md and tensor/torchfile/testdata).
const (
	tinyDir     = "../golden/testdata/tiny"
	tinyConfig  = tinyDir + "/config.json"
	tinyWeights = tinyDir + "/weights.safetensors"
	tinyBin     = "../tensor/torchfile/testdata/tiny_f32.bin"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hfConfig writes the tiny config as the hub's open_clip_config.json.
func hfConfig(t *testing.T, dst string) {
	t.Helper()
	cfg, err := os.ReadFile(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"model_cfg": json.RawMessage(cfg), "preprocess_cfg": map[string]any{"mean": []float64{0.48145466, 0.4578275, 0.40821073}}})
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hubCache lays out a hub cache folder for repo as huggingface_hub does:
// blobs, a snapshot of symbolic links, refs/main.
func hubCache(t *testing.T, cache, repo string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"))
	rev := "0123456789abcdef0123456789abcdef01234567"
	for name, src := range files {
		blob := filepath.Join(dir, "blobs", name+".blob")
		os.MkdirAll(filepath.Dir(blob), 0o755)
		if src == "" {
			hfConfig(t, blob)
		} else {
			copyFile(t, src, blob)
		}
		link := filepath.Join(dir, "snapshots", rev, name)
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(filepath.Join("..", "..", "blobs", name+".blob"), link); err != nil {
			copyFile(t, blob, link) // no symbolic links here: a copy will do
		}
	}
	os.MkdirAll(filepath.Join(dir, "refs"), 0o755)
	os.WriteFile(filepath.Join(dir, "refs", "main"), []byte(rev), 0o644)
	return dir
}

// TestOpenLayouts opens open_clip's tiny model in every layout Open
// accepts and checks where the config came from and that the weights are
// the fixture's (same captions as a model loaded by hand).
func TestOpenLayouts(t *testing.T) {
	dir := t.TempDir()
	want := tinyModel(t)
	img := testImages(t, 2, 32)
	ref, err := want.Generate(img.tensor, GenerateOptions{Strategy: StrategyGreedy, MaxLen: 10, Start: 62, End: 63})
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snapshot")
	copyFile(t, tinyBin, filepath.Join(snap, HFPyTorchFile))
	hfConfig(t, filepath.Join(snap, HFConfigFile))
	snapST := filepath.Join(dir, "snapshot-st")
	copyFile(t, tinyWeights, filepath.Join(snapST, HFSafetensorsFile))
	hfConfig(t, filepath.Join(snapST, HFConfigFile))
	cache := hubCache(t, filepath.Join(dir, "hub"), "laion/tiny", map[string]string{HFPyTorchFile: tinyBin, HFConfigFile: ""})
	odd := filepath.Join(dir, "odd", "weights.dat") // safetensors under another extension
	copyFile(t, tinyWeights, odd)
	copyFile(t, tinyConfig, filepath.Join(dir, "odd", "config.json"))
	for _, c := range []struct {
		path, format, config string
	}{
		{tinyWeights, FormatSafetensors, tinyConfig},
		{tinyBin, FormatPyTorch, "built-in coca_tiny (detected from the tensor shapes)"}, // open_clip's tiny test config is coca_tiny's
		{snap, FormatPyTorch, filepath.Join(snap, HFConfigFile)},
		{filepath.Join(snap, HFPyTorchFile), FormatPyTorch, filepath.Join(snap, HFConfigFile)},
		{snapST, FormatSafetensors, filepath.Join(snapST, HFConfigFile)},
		{cache, FormatPyTorch, HFConfigFile},
		{odd, FormatSafetensors, "config.json"},
	} {
		p, err := Open(c.path, WithSpecialTokens(62, 63))
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		info := p.Info()
		if info.Format != c.format || !strings.HasSuffix(info.Config, c.config) || info.Tokenizer != "clip" {
			t.Errorf("%s: %+v", c.path, info)
		}
		got, err := p.CaptionBatch(context.Background(), img.images, WithGenerateOptions(GenerateOptions{Strategy: StrategyGreedy, MaxLen: 10}))
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if !slices.Equal(got[i].Captions[0].Tokens, ref[i]) {
				t.Errorf("%s: image %d: %v, want %v", c.path, i, got[i].Captions[0].Tokens, ref[i])
			}
		}
	}
	// A directory with weights under other names: the error lists them.
	_, err = Open(tinyDir)
	if err == nil || !strings.Contains(err.Error(), "io.safetensors, weights.safetensors") {
		t.Errorf("golden fixture directory: %v", err)
	}
}

// trainedRun writes what coca train leaves in its run directory for a
// small random model trained with its own tokenizer: model.safetensors
// (config stored), tokenizer.txt, config.json, and a checkpoint whose
// metadata holds the merges.
func trainedRun(t *testing.T, dir string) (*Model, *tokenizer.Tokenizer) {
	t.Helper()
	corpus := strings.Repeat("a small red circle\na large blue square left of a small green star\ntwo large red crosses\n", 20)
	merges, err := tokenizer.Train(strings.NewReader(corpus), 540)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := merges.Tokenizer()
	cfg, _ := Builtin("coca_tiny")
	cfg.Text.VocabSize, cfg.Multimodal.VocabSize = tok.VocabSize(), tok.VocabSize()
	m := New(cfg)
	m.Init(11)
	f, _ := os.Create(filepath.Join(dir, TokenizerFile))
	merges.WriteTo(f)
	f.Close()
	if err := m.SaveSafetensors(filepath.Join(dir, TrainedModelFile)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), cfg.JSON(), 0o644)
	var sb strings.Builder
	merges.WriteTo(&sb)
	os.MkdirAll(filepath.Join(dir, "ckpt"), 0o755)
	md := map[string]string{"coca_config": string(cfg.JSON()), "tokenizer_merges": sb.String()}
	if err := safetensors.WriteFile(filepath.Join(dir, "ckpt", "step-0000010.model.safetensors"), m.Tensors(), md); err != nil {
		t.Fatal(err)
	}
	return m, tok
}

// TestOpenTrainedRun opens a run directory, its final model file and its
// checkpoint: the model's own tokenizer and special tokens are used.
func TestOpenTrainedRun(t *testing.T) {
	dir := t.TempDir()
	m, tok := trainedRun(t, dir)
	img := testImages(t, 2, 32)
	ref, _ := m.Generate(img.tensor, GenerateOptions{Strategy: StrategyGreedy, MaxLen: 8, MinLen: 2, Start: tok.SOT(), End: tok.EOT()})
	ckpt := filepath.Join(dir, "ckpt", "step-0000010.model.safetensors")
	noModel := filepath.Join(t.TempDir(), "run")
	copyFile(t, ckpt, filepath.Join(noModel, "ckpt", "step-0000010.model.safetensors"))
	os.WriteFile(filepath.Join(noModel, "checkpoint.json"), []byte(`{"step": 10, "model": "ckpt/step-0000010.model.safetensors"}`), 0o644)
	for _, c := range []struct{ path, tokFrom string }{
		{dir, filepath.Join(dir, TokenizerFile)},
		{filepath.Join(dir, TrainedModelFile), filepath.Join(dir, TokenizerFile)},
		{ckpt, "stored in " + ckpt},
		{noModel, "stored in"},
	} {
		p, err := Open(c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if !strings.HasPrefix(p.Info().Tokenizer, c.tokFrom) || !strings.HasPrefix(p.Info().Config, "stored in") {
			t.Errorf("%s: %+v", c.path, p.Info())
		}
		if s, e, err := p.SpecialTokens(); err != nil || s != tok.SOT() || e != tok.EOT() {
			t.Errorf("%s: special tokens %d %d %v", c.path, s, e, err)
		}
		res, err := p.CaptionBatch(context.Background(), img.images, WithGenerateOptions(GenerateOptions{Strategy: StrategyGreedy, MaxLen: 8, MinLen: 2}))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			c0 := r.Captions[0]
			if !slices.Equal(c0.Tokens, ref[i]) || c0.Text != strings.TrimSpace(tok.Decode(tok.TrimSpecial(ref[i]))) {
				t.Errorf("%s: image %d: %q %v, want %v", c.path, i, c0.Text, c0.Tokens, ref[i])
			}
		}
	}
	// The CLIP tokenizer has more tokens than this model's vocabulary.
	p, err := Open(dir, WithTokenizer("clip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EmbedTexts(context.Background(), "a red circle"); err == nil || !strings.Contains(err.Error(), "49408 tokens") {
		t.Errorf("CLIP tokenizer on a %d-token model: %v", m.Config.Text.VocabSize, err)
	}
	if _, _, err := p.SpecialTokens(); err == nil || !strings.Contains(err.Error(), "WithSpecialTokens") {
		t.Errorf("special tokens with a foreign tokenizer: %v", err)
	}
}

// TestOpenErrors checks that bad paths and mismatched configs are errors
// naming the file, and that a config-less checkpoint of a built-in is
// recognised.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.bin")
	os.WriteFile(text, []byte("not a checkpoint"), 0o644)
	empty := filepath.Join(dir, "empty.safetensors")
	os.WriteFile(empty, nil, 0o644)
	legacy := filepath.Join(dir, "legacy.pt")
	os.WriteFile(legacy, []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20}, 0o644)
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "nope.bin"), "no such file"},
		{text, "neither a safetensors file nor a PyTorch checkpoint"},
		{empty, "empty file"},
		{legacy, "legacy format"},
		{dir, "a directory without model.safetensors"},
	} {
		_, err := Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming it and %q", c.path, err, c.want)
		}
	}

	// A coca_tiny checkpoint saved without its config is recognised; loaded
	// as coca_small, the error names the config that fits.
	cfg, _ := Builtin("coca_tiny")
	m := New(cfg)
	m.Init(5)
	bare := filepath.Join(dir, "bare.safetensors")
	if err := safetensors.WriteFile(bare, m.Tensors(), nil); err != nil {
		t.Fatal(err)
	}
	p, err := Open(bare, WithSpecialTokens(1, 2))
	if err != nil || p.Info().Config != "built-in coca_tiny (detected from the tensor shapes)" {
		t.Fatalf("config-less coca_tiny: %v %+v", err, p)
	}
	_, err = Open(bare, WithConfig("coca_small"))
	var le *LoadError
	if !errors.As(err, &le) || le.Hint != "coca_tiny" || le.Config != "coca_small" || !strings.Contains(err.Error(), bare) {
		t.Fatalf("coca_tiny loaded as coca_small: %v", err)
	}
}

// shapesSource is a TensorSource with shapes only (no values).
type shapesSource map[string][]int

func (s shapesSource) Names() []string {
	var n []string
	for k := range s {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}
func (s shapesSource) Shape(name string) ([]int, bool) { v, ok := s[name]; return v, ok }
func (s shapesSource) Float32(string) ([]float32, error) {
	return nil, errors.New("shapes only")
}

// TestDetectPublishedConfigs detects the published models' configs from
// the parameter shapes of open_clip's coca_ViT-B-32 and coca_ViT-L-14
// state dicts (golden/testdata/param_shapes_*.json), and explains a
// checkpoint of no built-in config.
func TestDetectPublishedConfigs(t *testing.T) {
	for _, name := range []string{"coca_ViT-B-32", "coca_ViT-L-14"} {
		b, err := os.ReadFile("../golden/testdata/param_shapes_" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		src := shapesSource{}
		if err := json.Unmarshal(b, &src); err != nil {
			t.Fatal(err)
		}
		cfg, got, err := DetectConfig(src)
		if err != nil || got != name {
			t.Fatalf("%s: detected %q, %v", name, got, err)
		}
		want, _ := Builtin(name)
		if *cfg != *want {
			t.Errorf("%s: %+v", name, cfg)
		}
		// One layer more in the decoder: no built-in; the error shows it.
		src["text_decoder.resblocks.12.ln_1.weight"] = src["text_decoder.resblocks.0.ln_1.weight"]
		if _, _, err := DetectConfig(src); err == nil || !strings.Contains(err.Error(), "decoder width "+map[string]string{"coca_ViT-B-32": "512", "coca_ViT-L-14": "768"}[name]+", 13 layers") {
			t.Errorf("%s with 13 decoder layers: %v", name, err)
		}
	}
	if _, _, err := DetectConfig(shapesSource{"visual.proj": {512, 512}}); err == nil || !strings.Contains(err.Error(), "CLIP checkpoint") {
		t.Errorf("a CLIP checkpoint: %v", err)
	}
}

// TestPretrained resolves the published checkpoints from a hub cache laid
// out as huggingface_hub does, and says what to download when absent.
func TestPretrained(t *testing.T) {
	for _, c := range []struct{ model, tag, repo, err string }{
		{"coca_ViT-B-32", "laion2b_s13b_b90k", "laion/CoCa-ViT-B-32-laion2B-s13B-b90k", ""},
		{"", "coca_ViT-L-14:mscoco_finetuned_laion2B-s13B-b90k", "laion/mscoco_finetuned_CoCa-ViT-L-14-laion2B-s13B-b90k", ""},
		{"coca_vit-l-14", "LAION2B-S13B-B90K", "laion/CoCa-ViT-L-14-laion2B-s13B-b90k", ""},
		{"", "coca_ViT-B-32/mscoco_finetuned_laion2b_s13b_b90k", "laion/mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k", ""},
		{"", "laion2b_s13b_b90k", "", "published for coca_ViT-B-32 and coca_ViT-L-14"},
		{"coca_ViT-B-32", "openai", "", "no pretrained CoCa checkpoint \"openai\" for coca_ViT-B-32"},
	} {
		p, err := LookupPretrained(c.model, c.tag)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %s: %v, want %q", c.model, c.tag, err, c.err)
			}
			continue
		}
		if err != nil || p.Repo != c.repo {
			t.Errorf("%s %s: %+v %v", c.model, c.tag, p, err)
		}
	}

	home := t.TempDir()
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", home)
	if got := HubCacheDir(); got != filepath.Join(home, "hub") {
		t.Errorf("HubCacheDir with HF_HOME: %s", got)
	}
	_, err := ResolvePretrained("coca_ViT-B-32", "laion2b_s13b_b90k")
	for _, w := range []string{"open_clip_pytorch_model.bin is not in the Hugging Face cache " + filepath.Join(home, "hub"),
		"huggingface-cli download laion/CoCa-ViT-B-32-laion2B-s13B-b90k open_clip_pytorch_model.bin open_clip_config.json",
		"https://huggingface.co/laion/CoCa-ViT-B-32-laion2B-s13B-b90k/resolve/main/open_clip_pytorch_model.bin"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("absent checkpoint: %v\nwant %q", err, w)
		}
	}
	repo := hubCache(t, filepath.Join(home, "hub"), "laion/CoCa-ViT-B-32-laion2B-s13B-b90k", map[string]string{HFPyTorchFile: tinyBin, HFConfigFile: ""})
	got, err := ResolvePretrained("coca_ViT-B-32", "laion2B-s13B-b90k")
	if err != nil || filepath.Dir(filepath.Dir(got)) != repo || !isRegular(filepath.Join(got, HFPyTorchFile)) {
		t.Fatalf("resolved %q, %v", got, err)
	}
	// refs/main naming a snapshot that is gone: the one that holds the file.
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("feedface"), 0o644)
	if again, err := ResolvePretrained("coca_ViT-B-32", "laion2b_s13b_b90k"); err != nil || again != got {
		t.Errorf("stale refs/main: %q %v", again, err)
	}
	t.Setenv("HF_HUB_CACHE", filepath.Join(home, "elsewhere"))
	if _, err := ResolvePretrained("coca_ViT-B-32", "laion2b_s13b_b90k"); err == nil || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("HF_HUB_CACHE not followed: %v", err)
	}
}
