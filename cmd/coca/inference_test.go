package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
	"github.com/gococa/gococa/tokenizer"
)

const (
	tinyConfig  = "../../golden/testdata/tiny/config.json"
	tinyWeights = "../../golden/testdata/tiny/weights.safetensors"
	tinyF16Bin  = "../../tensor/torchfile/testdata/tiny_f16.bin"
	tinyBF16Bin = "../../tensor/torchfile/testdata/tiny_bf16.bin"
)

var tinyFlags = []string{"--config", tinyConfig, "--checkpoint", tinyWeights}

// runCmd runs the CLI and returns the exit code, stdout and stderr.
func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeImages writes n small random PNGs of different sizes to dir.
func writeImages(t *testing.T, dir string, n int) []string {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(n)))
	var paths []string
	for i := 0; i < n; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 40+7*i, 36+3*i))
		for y := 0; y < img.Bounds().Dy(); y++ {
			for x := 0; x < img.Bounds().Dx(); x++ {
				img.Set(x, y, color.NRGBA{uint8(rng.Intn(256)), uint8(x * 6), uint8(y * 5), 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

// loadTiny loads the fixture model as the library would.
func loadTiny(t *testing.T) *coca.Model {
	t.Helper()
	cfg, err := coca.LoadConfig(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	m := coca.New(cfg)
	if err := m.LoadSafetensors(tinyWeights); err != nil {
		t.Fatal(err)
	}
	return m
}

// imagesTensor preprocesses paths with the data package, (N, 3, S, S).
func imagesTensor(t *testing.T, paths []string, size int) *tensor.Tensor {
	t.Helper()
	var all []float32
	for _, p := range paths {
		x, err := data.PreprocessFile(p, size)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, x...)
	}
	return tensor.FromSlice(all, len(paths), 3, size, size)
}

// clipVocabModel saves a randomly initialised coca_tiny with CLIP's
// vocabulary (its config stored in the file) and returns the path.
func clipVocabModel(t *testing.T, dir string) (string, *coca.Model) {
	t.Helper()
	cfg, _ := coca.Builtin("coca_tiny")
	cfg.Text.VocabSize, cfg.Multimodal.VocabSize = 49408, 49408
	m := coca.New(cfg)
	m.Init(7)
	p := filepath.Join(dir, "clip_tiny.safetensors")
	if err := m.SaveSafetensors(p); err != nil {
		t.Fatal(err)
	}
	return p, m
}

type captionLine struct {
	Image   string `json:"image"`
	Caption string `json:"caption"`
	Tokens  []int  `json:"tokens"`
}

func parseCaptions(t *testing.T, out string) []captionLine {
	t.Helper()
	var res []captionLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var c captionLine
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		res = append(res, c)
	}
	return res
}

// TestCaptionMatchesLibrary checks the command's captions against
// coca.Generate on the same preprocessed images, for several strategies,
// batch sizes and the three weight precisions.
func TestCaptionMatchesLibrary(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 3)
	images := imagesTensor(t, paths, 32)
	for _, c := range []struct {
		flags   []string
		o       coca.GenerateOptions
		weights string
	}{
		{[]string{"--strategy", "greedy"}, coca.GenerateOptions{Strategy: "greedy"}, "f32"},
		{[]string{}, coca.GenerateOptions{Strategy: "beam", Beams: 6, BeamGroups: 3, LengthPenalty: 1}, "f32"},
		{[]string{"--beams", "3", "--length-penalty", "0", "--repetition-penalty", "1.2"}, coca.GenerateOptions{Strategy: "beam", Beams: 3, BeamGroups: 3, RepetitionPenalty: 1.2}, "f32"},
		{[]string{"--strategy", "top-k", "--top-k", "7", "--temperature", "1.3", "--seed", "5"}, coca.GenerateOptions{Strategy: "top-k", TopK: 7, Temperature: 1.3, Seed: 5}, "f32"},
		{[]string{"--strategy", "top-p", "--top-p", "0.5", "--seed", "9"}, coca.GenerateOptions{Strategy: "top-p", TopP: 0.5, Seed: 9}, "f32"},
		{[]string{"--strategy", "greedy", "--weights", "bf16"}, coca.GenerateOptions{Strategy: "greedy"}, "bf16"},
		{[]string{"--strategy", "greedy", "--weights", "int8"}, coca.GenerateOptions{Strategy: "greedy"}, "int8"},
		{[]string{"--weights", "int8"}, coca.GenerateOptions{Strategy: "beam", Beams: 6, BeamGroups: 3, LengthPenalty: 1}, "int8"},
	} {
		m := loadTiny(t)
		switch c.weights {
		case "bf16":
			m.QuantizeBF16()
		case "int8":
			if err := m.QuantizeInt8(); err != nil {
				t.Fatal(err)
			}
		}
		o := c.o
		o.MaxLen, o.MinLen, o.Start, o.End = 12, 5, 62, 63
		want, err := m.Generate(images, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []string{"2", "8"} {
			args := append(append([]string{"caption"}, tinyFlags...), "--start", "62", "--end", "63", "--max-len", "12", "--batch", batch, "--json")
			args = append(append(args, c.flags...), dir)
			code, out, errs := runCmd(args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", c.flags, code, errs)
			}
			got := parseCaptions(t, out)
			if len(got) != 3 {
				t.Fatalf("%v: %d lines", c.flags, len(got))
			}
			for i := range got {
				if got[i].Image != paths[i] || !slices.Equal(got[i].Tokens, want[i]) {
					t.Fatalf("%v batch %s: image %d: %s %v, library %v", c.flags, batch, i, got[i].Image, got[i].Tokens, want[i])
				}
				var ids []string
				for _, id := range want[i][1:] {
					if id == 63 {
						break
					}
					ids = append(ids, strconv.Itoa(id))
				}
				if got[i].Caption != strings.Join(ids, " ") {
					t.Fatalf("caption %q for tokens %v", got[i].Caption, want[i])
				}
			}
			if hasBar := strings.Contains(errs, "3/3 images"); hasBar != (batch == "2") {
				t.Fatalf("batch %s: progress bar %v: %q", batch, hasBar, errs)
			}
		}
	}
	// Plain output: path TAB caption.
	code, out, errs := runCmd(append(append([]string{"caption"}, tinyFlags...), "--start", "62", "--end", "63", "--max-len", "6", "--strategy", "greedy", paths[1])...)
	if code != 0 || !strings.HasPrefix(out, paths[1]+"\t") || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d, output %q %s", code, out, errs)
	}
}

// TestCaptionCheckpointFormats captions from the fixture saved by
// torch.save in float16 (read directly and after coca convert) and checks
// the tokens against the library on the same weights.
func TestCaptionCheckpointFormats(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 2)
	cfg, _ := coca.LoadConfig(tinyConfig)
	m := coca.New(cfg)
	ck, err := torchfile.Open(tinyF16Bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if err := m.Load(ck, tinyF16Bin); err != nil {
		t.Fatal(err)
	}
	o := coca.GenerateOptions{Strategy: "beam", Beams: 6, BeamGroups: 3, LengthPenalty: 1, MaxLen: 12, MinLen: 5, Start: 62, End: 63}
	want, _ := m.Generate(imagesTensor(t, paths, 32), o)
	conv := filepath.Join(dir, "tiny.safetensors")
	code, out, errs := runCmd("convert", "--config", tinyConfig, tinyF16Bin, conv)
	if code != 0 || !strings.Contains(out, "loads as") || !strings.Contains(out, "F16") {
		t.Fatalf("convert: exit %d: %s%s", code, out, errs)
	}
	for _, ckpt := range []string{tinyF16Bin, conv} {
		code, out, errs := runCmd("caption", "--config", tinyConfig, "--checkpoint", ckpt, "--start", "62", "--end", "63", "--max-len", "12", "--json", paths[0], paths[1])
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", ckpt, code, errs)
		}
		for i, c := range parseCaptions(t, out) {
			if !slices.Equal(c.Tokens, want[i]) {
				t.Fatalf("%s: image %d: %v, library %v", ckpt, i, c.Tokens, want[i])
			}
		}
	}
	// The converted file holds the same values as the .bin.
	f, err := safetensors.Open(conv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range ck.Names() {
		a, _ := ck.Float32(n)
		b, err := f.Float32(n)
		if err != nil || !slices.Equal(a, b) {
			t.Fatalf("%s differs after conversion (%v)", n, err)
		}
	}
	// A config that does not fit: one line naming the file, the config and
	// the config that fits; nothing written.
	x := filepath.Join(dir, "x.safetensors")
	code, _, errs = runCmd("convert", "--config", "coca_small", tinyF16Bin, x)
	if code != 1 || !strings.Contains(errs, tinyF16Bin) || !strings.Contains(errs, "(config coca_small); its tensor shapes are those of the built-in config coca_tiny") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("convert with the wrong config: exit %d: %q", code, errs)
	}
	if _, err := os.Stat(x); err == nil {
		t.Fatal("convert wrote a file for a config that does not fit")
	}
	// The converted file stores its config: no --config needed.
	if code, _, errs := runCmd("caption", "--checkpoint", conv, "--start", "62", "--end", "63", "--max-len", "12", paths[0]); code != 0 {
		t.Fatalf("caption without --config: exit %d: %s", code, errs)
	}
}

// TestCaptionBF16Checkpoints captions with --weights bf16 from float16 and
// bfloat16 checkpoints (torch.save and safetensors), which the command reads
// straight into bfloat16, and checks the tokens against the library's
// Load followed by QuantizeBF16 of the same file.
func TestCaptionBF16Checkpoints(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 2)
	images := imagesTensor(t, paths, 32)
	conv := filepath.Join(dir, "tiny_bf16.safetensors")
	if code, _, errs := runCmd("convert", "--config", tinyConfig, tinyBF16Bin, conv); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	cfg, _ := coca.LoadConfig(tinyConfig)
	o := coca.GenerateOptions{Strategy: "beam", Beams: 6, BeamGroups: 3, LengthPenalty: 1, MaxLen: 12, MinLen: 5, Start: 62, End: 63}
	for _, ckpt := range []string{tinyF16Bin, tinyBF16Bin, conv} {
		m := coca.New(cfg)
		var err error
		if strings.HasSuffix(ckpt, ".bin") {
			var ck *torchfile.Checkpoint
			if ck, err = torchfile.Open(ckpt); err == nil {
				err = m.Load(ck, ckpt)
				ck.Close()
			}
		} else {
			err = m.LoadSafetensors(ckpt)
		}
		if err != nil {
			t.Fatal(err)
		}
		m.QuantizeBF16()
		want, _ := m.Generate(images, o)
		code, out, errs := runCmd("caption", "--config", tinyConfig, "--checkpoint", ckpt, "--weights", "bf16", "--start", "62", "--end", "63", "--max-len", "12", "--json", paths[0], paths[1])
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", ckpt, code, errs)
		}
		for i, c := range parseCaptions(t, out) {
			if !slices.Equal(c.Tokens, want[i]) {
				t.Fatalf("%s: image %d: %v, library %v", ckpt, i, c.Tokens, want[i])
			}
		}
	}
}

// TestCaptionCLIPText checks that a model with CLIP's vocabulary gets
// CLIP's start and end tokens by default and text captions.
func TestCaptionCLIPText(t *testing.T) {
	dir := t.TempDir()
	ckpt, m := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 1)
	o := coca.GenerateOptions{Strategy: "greedy", MaxLen: 8, MinLen: 3, Start: 49406, End: 49407}
	want, _ := m.Generate(imagesTensor(t, paths, 32), o)
	// No --config: the file's stored config.
	code, out, errs := runCmd("caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "8", "--min-len", "3", "--json", paths[0])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	c := parseCaptions(t, out)[0]
	tok := tokenizer.New()
	if !slices.Equal(c.Tokens, want[0]) || c.Caption != strings.TrimSpace(tok.Decode(tok.TrimSpecial(want[0]))) {
		t.Fatalf("caption %q %v, library %v", c.Caption, c.Tokens, want[0])
	}
}

// TestEmbedAndRetrieve writes an index with image and text embeddings,
// compares it with the library's features and ranks it both ways.
func TestEmbedAndRetrieve(t *testing.T) {
	dir := t.TempDir()
	ckpt, m := clipVocabModel(t, dir)
	imgDir := filepath.Join(dir, "imgs")
	os.Mkdir(imgDir, 0o755)
	paths := writeImages(t, imgDir, 3)
	texts := []string{"a red square", "two blue circles", "a photo of noise"}
	textFile := filepath.Join(dir, "texts.txt")
	os.WriteFile(textFile, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	index := filepath.Join(dir, "index.safetensors")
	code, _, errs := runCmd("embed", "--checkpoint", ckpt, "--texts", textFile, "--out", index, "--batch", "2", imgDir)
	if code != 0 {
		t.Fatalf("embed: exit %d: %s", code, errs)
	}
	wantImg, _ := m.EncodeImage(imagesTensor(t, paths, 32))
	tok := tokenizer.New()
	var ids []int
	for _, s := range texts {
		ids = append(ids, tok.Tokenize(s, 12)...)
	}
	wantTxt := m.EncodeText(ids, 3, 12)
	f, err := safetensors.Open(index)
	if err != nil {
		t.Fatal(err)
	}
	gotImg, _ := f.Float32("image_features")
	gotTxt, _ := f.Float32("text_features")
	var metaImgs, metaTxts []string
	json.Unmarshal([]byte(f.Metadata()["images"]), &metaImgs)
	json.Unmarshal([]byte(f.Metadata()["texts"]), &metaTxts)
	f.Close()
	closeTo := func(what string, a, b []float32) {
		if len(a) != len(b) {
			t.Fatalf("%s: %d values, want %d", what, len(a), len(b))
		}
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-5 {
				t.Fatalf("%s[%d] = %g, want %g", what, i, a[i], b[i])
			}
		}
	}
	closeTo("image_features", gotImg, wantImg.Data())
	closeTo("text_features", gotTxt, wantTxt.Data())
	if !slices.Equal(metaImgs, paths) || !slices.Equal(metaTxts, texts) {
		t.Fatalf("metadata %v %v", metaImgs, metaTxts)
	}
	// JSON lines hold the same numbers.
	jl := filepath.Join(dir, "emb.jsonl")
	if code, _, errs := runCmd("embed", "--checkpoint", ckpt, "--texts", textFile, "--out", jl, "--images", paths[0]); code != 0 {
		t.Fatalf("embed jsonl: exit %d: %s", code, errs)
	}
	b, _ := os.ReadFile(jl)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines, want 4", len(lines))
	}
	var first, last struct {
		Kind, Image, Text string
		Embedding         []float32
	}
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[3]), &last)
	d := m.Config.EmbedDim
	if first.Kind != "image" || first.Image != paths[0] || last.Kind != "text" || last.Text != texts[2] {
		t.Fatalf("JSON lines %+v ... %+v", first, last)
	}
	closeTo("jsonl image", first.Embedding, wantImg.Data()[:d])
	closeTo("jsonl text", last.Embedding, wantTxt.Data()[2*d:])

	rank := func(q []float32, rows []float32) []int {
		n := len(rows) / d
		order := make([]int, n)
		s := make([]float64, n)
		for i := range order {
			order[i] = i
			for j := 0; j < d; j++ {
				s[i] += float64(q[j]) * float64(rows[i*d+j])
			}
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if s[a] > s[b] {
				return -1
			} else if s[a] < s[b] {
				return 1
			}
			return 0
		})
		return order
	}
	code, out, errs := runCmd("retrieve", "--checkpoint", ckpt, "--index", index, "--text", texts[1], "--top", "3")
	if code != 0 {
		t.Fatalf("retrieve: exit %d: %s", code, errs)
	}
	want := rank(wantTxt.Data()[d:2*d], wantImg.Data())
	got := strings.Split(strings.TrimSpace(out), "\n")
	for r, i := range want {
		if !strings.HasSuffix(got[r], "\t"+paths[i]) {
			t.Fatalf("rank %d: %q, want %s (%v)", r, got[r], paths[i], got)
		}
	}
	code, out, errs = runCmd("retrieve", "--checkpoint", ckpt, "--index", index, "--image", paths[2], "--top", "2", "--json")
	if code != 0 {
		t.Fatalf("retrieve --image: exit %d: %s", code, errs)
	}
	want = rank(wantImg.Data()[2*d:], wantTxt.Data())
	got = strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != 2 {
		t.Fatalf("--top 2 gave %d lines", len(got))
	}
	for r := range got {
		var item struct {
			Rank  int
			Text  string
			Score float64
		}
		json.Unmarshal([]byte(got[r]), &item)
		if item.Rank != r+1 || item.Text != texts[want[r]] {
			t.Fatalf("rank %d: %s, want %q", r, got[r], texts[want[r]])
		}
	}
	// An index without texts cannot answer an image query.
	imgOnly := filepath.Join(dir, "img.safetensors")
	runCmd("embed", "--checkpoint", ckpt, "--out", imgOnly, paths[0])
	code, _, errs = runCmd("retrieve", "--checkpoint", ckpt, "--index", imgOnly, "--image", paths[0])
	if code != 1 || !strings.Contains(errs, imgOnly) {
		t.Fatalf("image query on an image-only index: exit %d: %q", code, errs)
	}
}

// TestZeroShotCommand compares the command's top classes and
// probabilities with the library's classifier.
func TestZeroShotCommand(t *testing.T) {
	dir := t.TempDir()
	ckpt, m := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 2)
	classes := []string{"cat", "dog", "bicycle", "tree"}
	templates := []string{"a photo of a {}.", "a drawing of the {}."}
	cf, tf := filepath.Join(dir, "classes.txt"), filepath.Join(dir, "templates.txt")
	os.WriteFile(cf, []byte(strings.Join(classes, "\n")), 0o644)
	os.WriteFile(tf, []byte(strings.Join(templates, "\n")), 0o644)
	code, out, errs := runCmd("zeroshot", "--checkpoint", ckpt, "--classes", cf, "--templates", tf, "--top", "2", "--json", paths[0], paths[1])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tok := tokenizer.New()
	cls, err := m.ClassEmbeddings(classes, templates, func(s string) []int { return tok.Tokenize(s, 12) }, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := m.EncodeImage(imagesTensor(t, paths, 32))
	probs := m.ZeroShotProbs(img, cls)
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Image string
			Top   []struct {
				Class string
				Prob  float32
			}
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || len(r.Top) != 2 || r.Image != paths[i] {
			t.Fatalf("line %q (%v)", l, err)
		}
		row := probs[i*4 : (i+1)*4]
		best := slices.Index(row, slices.Max(row))
		if r.Top[0].Class != classes[best] || math.Abs(float64(r.Top[0].Prob-row[best])) > 1e-5 || r.Top[1].Prob > r.Top[0].Prob {
			t.Fatalf("image %d: %+v, library %v", i, r.Top, row)
		}
	}
	// Default templates: 80 prompts per class; plain output.
	code, out, errs = runCmd("zeroshot", "--checkpoint", ckpt, "--classes", cf, "--top", "1", paths[0])
	if code != 0 || !strings.HasPrefix(out, paths[0]+"\t") {
		t.Fatalf("exit %d: %q %s", code, out, errs)
	}
}

// TestTokenizeCommand compares the command with tokenizer.Tokenize.
func TestTokenizeCommand(t *testing.T) {
	dir := t.TempDir()
	texts := []string{"a photo of a cat", "Hello, World! ünïcode", ""}
	plain := filepath.Join(dir, "t.txt")
	os.WriteFile(plain, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	jl := filepath.Join(dir, "t.jsonl")
	os.WriteFile(jl, []byte("\"two\\nlines\"\n{\"text\": \"an object\"}\n"), 0o644)
	tok := tokenizer.New()
	code, out, errs := runCmd("tokenize", "--context-length", "8", plain)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts", len(lines), len(texts))
	}
	for i, l := range lines {
		var ids []int
		json.Unmarshal([]byte(l), &ids)
		if !slices.Equal(ids, tok.Tokenize(texts[i], 8)) {
			t.Fatalf("%q: %v, want %v", texts[i], ids, tok.Tokenize(texts[i], 8))
		}
	}
	code, out, _ = runCmd("tokenize", "--jsonl", "--context-length", "0", jl)
	want := fmt.Sprintf("%v\n%v\n", ints(append(append([]int{49406}, tok.Encode("two\nlines")...), 49407)), ints(append(append([]int{49406}, tok.Encode("an object")...), 49407)))
	if code != 0 || out != want {
		t.Fatalf("jsonl: exit %d: %q, want %q", code, out, want)
	}
	if code, _, errs := runCmd("tokenize", "--jsonl", plain); code != 1 || !strings.Contains(errs, plain+":1") {
		t.Fatalf("bad JSON line: exit %d: %q", code, errs)
	}
}

func ints(v []int) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPreprocessCommand compares the stored tensors with
// data.PreprocessFile and checks the duplicate-name error.
func TestPreprocessCommand(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 2)
	out := filepath.Join(dir, "px.safetensors")
	code, _, errs := runCmd("preprocess", "--size", "24", "--out", out, paths[0], paths[1])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range paths {
		want, _ := data.PreprocessFile(p, 24)
		got, err := f.Float32(filepath.Base(p))
		info, _ := f.Info(filepath.Base(p))
		if err != nil || !slices.Equal(got, want) || !slices.Equal(info.Shape, []int{3, 24, 24}) {
			t.Fatalf("%s: %v %v", p, info.Shape, err)
		}
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	other := writeImages(t, sub, 1)
	code, _, errs = runCmd("preprocess", "--out", out, paths[0], other[0])
	if code != 1 || !strings.Contains(errs, other[0]) {
		t.Fatalf("duplicate names: exit %d: %q", code, errs)
	}
}

// TestInferenceHelp checks that every command's -h shows an example and
// exits 0.
func TestInferenceHelp(t *testing.T) {
	for _, c := range []string{"caption", "embed", "zeroshot", "retrieve", "convert", "tokenize", "preprocess"} {
		code, _, errs := runCmd(c, "--help")
		if code != 0 || !strings.Contains(errs, "example:\n  coca ") && !strings.Contains(errs, "example:\n  echo") {
			t.Fatalf("%s --help: exit %d:\n%s", c, code, errs)
		}
	}
}

// TestInferenceErrors checks that bad input gives one line naming the
// culprit, and exit status 1.
func TestInferenceErrors(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 1)
	bad := filepath.Join(dir, "broken.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	// A zero-byte file, a text file named .jpg and a JPEG cut in half.
	empty, notes, cut := filepath.Join(dir, "empty.jpg"), filepath.Join(dir, "notes.jpg"), filepath.Join(dir, "cut.jpg")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(notes, []byte("shopping list: eggs, milk\n"), 0o644)
	jpg, err := os.ReadFile("../../data/testdata/variants/chelsea_q90.jpg")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cut, jpg[:len(jpg)/2], 0o644)
	missing := filepath.Join(dir, "nope.bin")
	tinyStart := []string{"--start", "62", "--end", "63", "--max-len", "8"}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"caption", "--config", tinyConfig, "--checkpoint", missing, paths[0]}, []string{missing, "no such file"}},
		{[]string{"caption", "--config", "coca_small", "--checkpoint", tinyWeights, paths[0]}, []string{tinyWeights, "does not match", "coca_small"}},
		{append(append([]string{"caption"}, tinyFlags...), append(tinyStart, paths[0], bad)...), []string{bad}},
		{append(append([]string{"caption"}, tinyFlags...), append(tinyStart, filepath.Join(dir, "gone.jpg"))...), []string{"gone.jpg"}},
		{append(append([]string{"caption"}, tinyFlags...), paths[0]), []string{"--start"}},
		{[]string{"caption", "--config", filepath.Join(dir, "nope.json"), "--checkpoint", tinyWeights, paths[0]}, []string{"nope.json"}},
		{append(append([]string{"embed"}, tinyFlags...), "--texts", filepath.Join(dir, "none.txt"), "--out", filepath.Join(dir, "e.safetensors")), []string{"none.txt"}},
		{append(append([]string{"zeroshot"}, tinyFlags...), "--classes", filepath.Join(dir, "none.txt"), paths[0]), []string{"none.txt"}},
		{append(append([]string{"retrieve"}, tinyFlags...), "--index", filepath.Join(dir, "none.safetensors"), "--text", "x"), []string{"none.safetensors"}},
		{[]string{"convert", missing, filepath.Join(dir, "o.safetensors")}, []string{missing}},
		{[]string{"convert", bad, filepath.Join(dir, "o.safetensors")}, []string{bad}},
		{[]string{"preprocess", "--out", filepath.Join(dir, "p.safetensors"), bad}, []string{bad}},
		{append(append([]string{"caption"}, tinyFlags...), append(tinyStart, empty)...), []string{empty, "empty file"}},
		{append(append([]string{"caption"}, tinyFlags...), append(tinyStart, notes)...), []string{notes, "unknown format"}},
		{append(append([]string{"caption"}, tinyFlags...), append(tinyStart, cut)...), []string{cut, "unexpected EOF"}},
		{append(append([]string{"embed"}, tinyFlags...), "--out", filepath.Join(dir, "e.safetensors"), cut), []string{cut}},
		{[]string{"preprocess", "--out", filepath.Join(dir, "p.safetensors"), empty}, []string{empty}},
		{[]string{"preprocess", "--out", filepath.Join(dir, "p.safetensors"), notes}, []string{notes}},
		{[]string{"preprocess", "--out", filepath.Join(dir, "p.safetensors"), cut}, []string{cut}},
	} {
		code, _, errs := runCmd(c.args...)
		if code != 1 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, want 1 and one line:\n%s", c.args, code, errs)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: %q does not name %q", c.args, errs, w)
			}
		}
	}
}
