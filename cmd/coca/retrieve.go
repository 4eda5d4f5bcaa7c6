package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"sort"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

func init() {
	register("retrieve", "rank the images of an embeddings index for a text, or its texts for an image", runRetrieve)
}

func runRetrieve(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("retrieve", "[flags] --index FILE.safetensors (--text QUERY | --image IMAGE)",
		"coca embed --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --out index.safetensors photos/\n"+
			"  coca retrieve --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --index index.safetensors --text \"a red bicycle\" --top 3", stderr)
	mf := addModelFlags(fs)
	index := fs.String("index", "", "embeddings written by coca embed (.safetensors)")
	text := fs.String("text", "", "query text: rank the index's images")
	imageQuery := fs.String("image", "", "query image: rank the index's texts")
	top := fs.Int("top", 5, "results to print")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"rank\", \"score\", \"image\"|\"text\"}")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (the query is --text or --image)", rest[0])
	}
	if *index == "" || (*text == "") == (*imageQuery == "") {
		fs.Usage()
		return exitError{2}
	}
	if *top < 1 {
		return usagef("--top %d: want at least 1", *top)
	}
	if err := mf.check(); err != nil {
		return err
	}
	f, err := safetensors.Open(*index)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	tensorName, metaName, kind := embImageTensor, embImagesMeta, "image"
	if *imageQuery != "" {
		tensorName, metaName, kind = embTextTensor, embTextsMeta, "text"
	}
	info, ok := f.Info(tensorName)
	if !ok {
		return fmt.Errorf("index %s: no %s embeddings (tensor %q); run coca embed with %s", *index, kind, tensorName, map[string]string{"image": "images", "text": "--texts"}[kind])
	}
	stored, err := f.Float32(tensorName)
	if err != nil {
		return fmt.Errorf("index %s: %w", *index, err)
	}
	var names []string
	if err := json.Unmarshal([]byte(f.Metadata()[metaName]), &names); err != nil || len(info.Shape) != 2 || len(names) != info.Shape[0] {
		return fmt.Errorf("index %s: metadata %q does not list the %d rows of %s", *index, metaName, info.Shape[0], tensorName)
	}
	p, err := mf.open()
	if err != nil {
		return err
	}
	d := p.Model().Config.EmbedDim
	if info.Shape[1] != d {
		return fmt.Errorf("index %s: embeddings of width %d, the model's are %d (made with another model?)", *index, info.Shape[1], d)
	}
	ctx := context.Background()
	var q [][]float32
	if *text != "" {
		q, err = p.EmbedTexts(ctx, *text)
	} else {
		var img image.Image
		if img, err = loadImage(*imageQuery); err == nil {
			q, err = p.Embed(ctx, img)
		}
	}
	if err != nil {
		return err
	}
	n := len(names)
	sim := tensor.MatMul(tensor.FromSlice(q[0], 1, d), tensor.FromSlice(stored, n, d), false, true) // (1, n)
	scores := make([]float32, n)
	tensor.CopyOut(scores, sim.Data()) // one copy from a device
	tensor.Release(sim)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	enc := json.NewEncoder(safeJSON{stdout})
	enc.SetEscapeHTML(false)
	for r, i := range order[:min(*top, n)] {
		if *jsonOut {
			item := map[string]any{"rank": r + 1, "score": scores[i], kind: names[i]}
			if err := enc.Encode(item); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "%.4f\t%s\n", scores[i], termSafe(names[i]))
	}
	return nil
}
