package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
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
	classesFile := fs.String("classes", "", "class names, one per line (required)")
	templatesFile := fs.String("templates", "", "prompt templates, one per line, \"{}\" marking the class name (default: OpenAI's 80 ImageNet templates)")
	top := fs.Int("top", 5, "classes to print per image")
	batch := fs.Int("batch", 64, "texts per batch when building the classifier (images: 8)")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"image\", \"top\": [{\"class\", \"prob\"}]} instead of path<TAB>prob class<TAB>...")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || *classesFile == "" {
		fs.Usage()
		return exitError{2}
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: want at least 1", *top)
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
	paths, err := collectImages(rest)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	tok, err := mf.loadTokenizer()
	if err != nil {
		return err
	}
	tokenize, err := textTokenizer(m, tok)
	if err != nil {
		return err
	}
	cls, err := m.ClassEmbeddings(classes, templates, tokenize, *batch)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	const imgBatch = 8
	prog := newProgress(stderr, "zeroshot", len(paths), len(paths) > imgBatch)
	type scored struct {
		Class string  `json:"class"`
		Prob  float32 `json:"prob"`
	}
	for b0 := 0; b0 < len(paths); b0 += imgBatch {
		group := paths[b0:min(b0+imgBatch, len(paths))]
		feat, err := embedImages(m, group, imgBatch, newProgress(io.Discard, "", 0, false))
		if err != nil {
			return err
		}
		d := m.Config.EmbedDim
		probs := m.ZeroShotProbs(tensorOf(feat, len(group), d), cls)
		c := len(classes)
		for i, p := range group {
			order := make([]int, c)
			for j := range order {
				order[j] = j
			}
			row := probs[i*c : (i+1)*c]
			sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
			var best []scored
			for _, j := range order[:min(*top, c)] {
				best = append(best, scored{classes[j], row[j]})
			}
			if *jsonOut {
				if err := enc.Encode(struct {
					Image string   `json:"image"`
					Top   []scored `json:"top"`
				}{p, best}); err != nil {
					return err
				}
				continue
			}
			parts := []string{p}
			for _, s := range best {
				parts = append(parts, fmt.Sprintf("%.4f %s", s.Prob, s.Class))
			}
			fmt.Fprintln(stdout, strings.Join(parts, "\t"))
		}
		prog.update(b0 + len(group))
	}
	return nil
}
