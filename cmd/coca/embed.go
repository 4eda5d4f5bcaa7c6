package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/coca"
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
	imf := addImageFlags(fs, "embed")
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
	if len(images) == 0 && *texts == "" && imf.filesFrom == "" {
		fs.Usage()
		return exitError{2}
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".safetensors" && ext != ".jsonl" {
		return usagef("--out %q: want a .safetensors or .jsonl file", *out)
	}
	if *batch < 1 {
		return usagef("--batch %d: want at least 1", *batch)
	}
	if err := mf.check(); err != nil {
		return err
	}
	var paths, lines []string
	if len(images) > 0 || imf.filesFrom != "" {
		if paths, err = imf.collect(images); err != nil {
			return err
		}
	}
	if *texts != "" {
		if lines, err = readLines(*texts, "texts file"); err != nil {
			return err
		}
	}
	p, err := mf.open(coca.WithBatchSize(*batch, *batch))
	if err != nil {
		return err
	}
	if len(lines) > 0 && p.TextError() != nil {
		return p.TextError()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var kept []string
	var imgFeat []float32
	prog := newProgress(stderr, "embed", len(paths), len(paths) > *batch)
	err = imf.eachBatch(paths, *batch, prog, func(group []string, imgs []image.Image) error {
		f, err := p.Embed(ctx, imgs...)
		if err != nil {
			return err
		}
		kept = append(kept, group...)
		for _, row := range f {
			imgFeat = append(imgFeat, row...)
		}
		return nil
	})
	imf.summary()
	if err != nil {
		return err
	}
	paths = kept
	var txtFeat []float32
	if len(lines) > 0 {
		f, err := p.EmbedTexts(ctx, lines...)
		if err != nil {
			return err
		}
		for _, row := range f {
			txtFeat = append(txtFeat, row...)
		}
	}
	d := p.Model().Config.EmbedDim
	if ext == ".jsonl" {
		return writeEmbeddingsJSONL(*out, paths, imgFeat, lines, txtFeat, d)
	}
	var ts []safetensors.Tensor
	meta := map[string]string{"embed_dim": fmt.Sprint(d), "checkpoint": p.Info().Path}
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
	if len(ts) == 0 {
		return errors.New("nothing to write: no image could be read")
	}
	if err := safetensors.WriteFile(*out, ts, meta); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: %d image and %d text embeddings of width %d\n", termSafe(*out), len(paths), len(lines), d)
	return nil
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
