package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/tensor/safetensors"
)

func init() {
	register("preprocess", "images to the tensors the model sees (open_clip's eval transform), in a .safetensors file", runPreprocess)
}

func runPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("preprocess", "--out FILE.safetensors [--size S] IMAGE|DIR ...",
		"coca preprocess --size 224 --out pixels.safetensors cat.jpg photos/", stderr)
	size := fs.Int("size", 224, "output side in pixels (the config's image_size)")
	out := fs.String("out", "", "output .safetensors: one float32 [3, S, S] tensor per image, named by its file name")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || *out == "" {
		fs.Usage()
		return exitError{2}
	}
	if *size < 1 {
		return fmt.Errorf("--size %d: want at least 1", *size)
	}
	if !strings.HasSuffix(strings.ToLower(*out), ".safetensors") {
		return fmt.Errorf("--out %s: want a .safetensors file name", *out)
	}
	paths, err := collectImages(rest)
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
	prog := newProgress(stderr, "preprocess", len(paths), len(paths) > 64)
	for b0 := 0; b0 < len(paths); b0 += 64 {
		group := paths[b0:min(b0+64, len(paths))]
		x, err := loadImages(group, *size)
		if err != nil {
			return err
		}
		d := x.Data()
		for i, p := range group {
			ts = append(ts, safetensors.F32(filepath.Base(p), []int{3, *size, *size}, d[i*per:(i+1)*per]))
		}
		prog.update(b0 + len(group))
	}
	src, _ := json.Marshal(seen)
	meta := map[string]string{"size": fmt.Sprint(*size), "transform": "open_clip eval: bicubic shorter side, center crop, OpenAI mean/std", "paths": string(src)}
	if err := safetensors.WriteFile(*out, ts, meta); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s: %d tensors [3, %d, %d]\n", *out, len(ts), *size, *size)
	return nil
}
