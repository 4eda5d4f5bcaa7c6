package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/gococa/gococa/coca"
)

func init() {
	register("zeroshot", "classify images among class names with prompt templates (zero-shot)", runZeroShot)
}

func runZeroShot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("zeroshot", "[flags] --classes FILE IMAGE|DIR ...",
		"coca zeroshot --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --classes classes.txt --top 3 photos/", stderr)
	mf := addModelFlags(fs)
	imf := addImageFlags(fs, "zeroshot")
	classesFile := fs.String("classes", "", "class names, one per line (required)")
	templatesFile := fs.String("templates", "", "prompt templates, one per line, \"{}\" marking the class name (default: OpenAI's 80 ImageNet templates)")
	top := fs.Int("top", 5, "classes to print per image")
	batch := fs.Int("batch", 64, "texts per batch when building the classifier")
	imgBatch := fs.Int("image-batch", 8, "images per batch")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"image\", \"top\": [{\"class\", \"prob\"}]} instead of path<TAB>prob class<TAB>...")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if (len(rest) == 0 && imf.filesFrom == "") || *classesFile == "" {
		fs.Usage()
		return exitError{2}
	}
	switch {
	case *top < 1:
		return usagef("--top %d: want at least 1", *top)
	case *batch < 1 || *imgBatch < 1:
		return usagef("--batch %d, --image-batch %d: want at least 1", *batch, *imgBatch)
	}
	if err := mf.check(); err != nil {
		return err
	}
	classes, err := readLines(*classesFile, "classes file")
	if err != nil {
		return err
	}
	templates := coca.OpenAIImageNetTemplates
	if *templatesFile != "" {
		if templates, err = readLines(*templatesFile, "templates file"); err != nil {
			return err
		}
		for _, t := range templates {
			if !strings.Contains(t, "{}") {
				return fmt.Errorf("templates file %s: template %q has no {} for the class name", *templatesFile, t)
			}
		}
	}
	paths, err := imf.collect(rest)
	if err != nil {
		return err
	}
	p, err := mf.open(coca.WithBatchSize(*imgBatch, *batch))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cls, err := p.NewClassifier(ctx, classes, templates...)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(safeJSON{stdout})
	enc.SetEscapeHTML(false)
	prog := newProgress(stderr, "zeroshot", len(paths), len(paths) > *imgBatch)
	type scored struct {
		Class string  `json:"class"`
		Prob  float32 `json:"prob"`
	}
	err = imf.eachBatch(paths, *imgBatch, prog, func(group []string, imgs []image.Image) error {
		preds, err := cls.Classify(ctx, imgs...)
		if err != nil {
			return err
		}
		for i, p := range group {
			best := preds[i][:min(*top, len(preds[i]))]
			if *jsonOut {
				var top []scored
				for _, b := range best {
					top = append(top, scored{b.Class, b.Prob})
				}
				if err := enc.Encode(struct {
					Image string   `json:"image"`
					Top   []scored `json:"top"`
				}{p, top}); err != nil {
					return err
				}
				continue
			}
			parts := []string{termSafe(p)}
			for _, b := range best {
				parts = append(parts, fmt.Sprintf("%.4f %s", b.Prob, termSafe(b.Class)))
			}
			if _, err := fmt.Fprintln(stdout, strings.Join(parts, "\t")); err != nil {
				return err
			}
		}
		return nil
	})
	imf.summary()
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}
