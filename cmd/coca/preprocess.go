package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor/safetensors"
)

func init() {
	register("preprocess", "images to the tensors the model sees (open_clip's eval transform), in a .safetensors file", runPreprocess)
}

func runPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("preprocess", "--out FILE.safetensors [--size S] IMAGE|DIR ...",
		"coca preprocess --size 224 --out pixels.safetensors cat.jpg photos/", stderr)
	imf := addImageFlags(fs, "preprocess")
	size := fs.Int("size", 224, "output side in pixels (the config's image_size)")
	out := fs.String("out", "", "output .safetensors: one float32 [3, S, S] tensor per image, named by its file name")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if (len(rest) == 0 && imf.filesFrom == "") || *out == "" {
		fs.Usage()
		return exitError{2}
	}
	if *size < 1 {
		return usagef("--size %d: want at least 1", *size)
	}
	if !strings.HasSuffix(strings.ToLower(*out), ".safetensors") {
		return usagef("--out %s: want a .safetensors file name", *out)
	}
	paths, err := imf.collect(rest)
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, p := range paths {
		b := filepath.Base(p)
		if q, dup := seen[b]; dup {
			return fmt.Errorf("images %s and %s share the tensor name %q", q, p, b)
		}
		seen[b] = p
	}
	per := 3 * *size * *size
	var ts []safetensors.Tensor
	kept := map[string]string{}
	prog := newProgress(stderr, "preprocess", len(paths), len(paths) > 64)
	err = imf.eachBatch(paths, 64, prog, func(group []string, imgs []image.Image) error {
		d := make([]float32, len(imgs)*per)
		for i, p := range group {
			data.PreprocessInto(d[i*per:(i+1)*per], imgs[i], *size)
			ts = append(ts, safetensors.F32(filepath.Base(p), []int{3, *size, *size}, d[i*per:(i+1)*per]))
			kept[filepath.Base(p)] = p
		}
		return nil
	})
	imf.summary()
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return errors.New("nothing to write: no image could be read")
	}
	seen = kept
	src, _ := json.Marshal(seen)
	meta := map[string]string{"size": fmt.Sprint(*size), "transform": "open_clip eval: bicubic shorter side, center crop, OpenAI mean/std", "paths": string(src)}
	if err := safetensors.WriteFile(*out, ts, meta); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: %d tensors [3, %d, %d]\n", termSafe(*out), len(ts), *size, *size)
	return nil
}
