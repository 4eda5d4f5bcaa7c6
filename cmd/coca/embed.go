package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

func init() {
	register("embed", "write normalised image and/or text embeddings to a .safetensors or .jsonl file", runEmbed)
}

// Names in an embeddings .safetensors file (read back by coca retrieve).
const (
	embImageTensor = "image_features" // (N, D) float32, L2-normalised
	embTextTensor  = "text_features"  // (M, D)
	embImagesMeta  = "images"         // JSON array of the N image paths
	embTextsMeta   = "texts"          // JSON array of the M texts
)

func runEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", "[flags] --out FILE.safetensors|FILE.jsonl [IMAGE|DIR ...]",
		"coca embed --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --texts captions.txt --out index.safetensors photos/\n"+
			"  coca retrieve --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --index index.safetensors --text \"a dog on a beach\"", stderr)
	mf := addModelFlags(fs)
	var images multiFlag
	fs.Var(&images, "images", "image file or directory (repeatable; positional arguments count too)")
	texts := fs.String("texts", "", "text file, one text per line")
	out := fs.String("out", "", "output: .safetensors (image_features, text_features; paths and texts in the metadata) or .jsonl (one object per item)")
	batch := fs.Int("batch", 8, "images or texts per batch")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	images = append(images, rest...)
	if len(images) == 0 && *texts == "" {
		fs.Usage()
		return exitError{2}
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".safetensors" && ext != ".jsonl" {
		return fmt.Errorf("--out %q: want a .safetensors or .jsonl file", *out)
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	}
	var paths, lines []string
	if len(images) > 0 {
		if paths, err = collectImages(images); err != nil {
			return err
		}
	}
	if *texts != "" {
		if lines, err = readLines(*texts, "texts file"); err != nil {
			return err
		}
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	imgFeat, err := embedImages(m, paths, *batch, newProgress(stderr, "embed", len(paths), len(paths) > *batch))
	if err != nil {
		return err
	}
	var txtFeat []float32
	if len(lines) > 0 {
		tok, err := mf.loadTokenizer()
		if err != nil {
			return err
		}
		tokenize, err := textTokenizer(m, tok)
		if err != nil {
			return err
		}
		txtFeat = embedTexts(m, lines, tokenize, *batch)
	}
	d := m.Config.EmbedDim
	if ext == ".jsonl" {
		return writeEmbeddingsJSONL(*out, paths, imgFeat, lines, txtFeat, d)
	}
	var ts []safetensors.Tensor
	meta := map[string]string{"embed_dim": fmt.Sprint(d), "checkpoint": mf.checkpoint}
	if len(paths) > 0 {
		ts = append(ts, safetensors.F32(embImageTensor, []int{len(paths), d}, imgFeat))
		b, _ := json.Marshal(paths)
		meta[embImagesMeta] = string(b)
	}
	if len(lines) > 0 {
		ts = append(ts, safetensors.F32(embTextTensor, []int{len(lines), d}, txtFeat))
		b, _ := json.Marshal(lines)
		meta[embTextsMeta] = string(b)
	}
	if err := safetensors.WriteFile(*out, ts, meta); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: %d image and %d text embeddings of width %d\n", *out, len(paths), len(lines), d)
	return nil
}

// embedImages returns the normalised features of the images, (N, D).
func embedImages(m *coca.Model, paths []string, batch int, prog *progress) ([]float32, error) {
	defer tensor.NoGrad()()
	var out []float32
	for b0 := 0; b0 < len(paths); b0 += batch {
		group := paths[b0:min(b0+batch, len(paths))]
		imgs, err := loadImages(group, m.Config.Vision.ImageSize)
		if err != nil {
			return nil, err
		}
		f, _ := m.EncodeImage(imgs)
		out = append(out, f.Data()...)
		prog.update(b0 + len(group))
	}
	return out, nil
}

// embedTexts returns the normalised features of the texts, (M, D).
func embedTexts(m *coca.Model, texts []string, tokenize func(string) []int, batch int) []float32 {
	defer tensor.NoGrad()()
	var out []float32
	for b0 := 0; b0 < len(texts); b0 += batch {
		group := texts[b0:min(b0+batch, len(texts))]
		var ids []int
		l := 0
		for _, s := range group {
			row := tokenize(s)
			l = len(row)
			ids = append(ids, row...)
		}
		out = append(out, m.EncodeText(ids, len(group), l).Data()...)
	}
	return out
}

func writeEmbeddingsJSONL(path string, paths []string, img []float32, texts []string, txt []float32, d int) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", path, cerr)
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	type item struct {
		Kind      string    `json:"kind"`
		Image     string    `json:"image,omitempty"`
		Text      string    `json:"text,omitempty"`
		Embedding []float32 `json:"embedding"`
	}
	for i, p := range paths {
		if err := enc.Encode(item{Kind: "image", Image: p, Embedding: img[i*d : (i+1)*d]}); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	for i, s := range texts {
		if err := enc.Encode(item{Kind: "text", Text: s, Embedding: txt[i*d : (i+1)*d]}); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
