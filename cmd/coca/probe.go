package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sort"
	"strings"

	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/train"
)

func init() {
	register("probe", "train a classification head (linear or attentional pooling) on a model's image features over a labelled folder", runProbe)
	register("classify", "classify images with a head from coca probe (--probe), or zero-shot among class names (as coca zeroshot)", runClassify)
	register("synth", "render a labelled folder of synthetic single-object images (one subfolder per shape, colour or size)", runSynth)
}

func runProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", "[flags] --checkpoint MODEL --out HEAD.safetensors DIR",
		"coca synth --out shapes/ && coca probe --checkpoint runs/coca/model.safetensors --head attentional --out runs/coca/shapes-probe.safetensors shapes/\n"+
			"  coca classify --checkpoint runs/coca/model.safetensors --probe runs/coca/shapes-probe.safetensors img.png", stderr)
	mf := addModelFlags(fs)
	var o train.ProbeOptions
	out := fs.String("out", "", "write the head here (.safetensors; required)")
	force := fs.Bool("force", false, "replace an existing --out file")
	fs.StringVar(&o.Head, "head", "linear", "linear (logistic regression on the image embedding) or attentional (a one-query attentional pooler over the encoder's output tokens, then a linear layer: the CoCa paper's frozen-feature head)")
	fs.IntVar(&o.Epochs, "epochs", 0, "passes over the training images (default 100; 10 with --finetune)")
	fs.IntVar(&o.BatchSize, "batch", 64, "images per step")
	fs.Float64Var(&o.LR, "lr", 0, "peak learning rate of the head, cosine-decayed (default 1e-2 linear, 1e-3 attentional)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 1e-4, "AdamW weight decay")
	fs.Float64Var(&o.HeldOut, "held-out", 0.2, "fraction of each class's images held out for the reported top-1")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the held-out split, the head's initialisation and the batch order")
	fs.BoolVar(&o.Finetune, "finetune", false, "train the image encoder with the head (the head file then holds the encoder's weights)")
	fs.Float64Var(&o.EncoderLR, "encoder-lr", 0, "peak learning rate of the encoder with --finetune (default lr/10)")
	fs.IntVar(&o.Workers, "workers", 0, "image decoding goroutines (default GOMAXPROCS)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || *out == "" {
		fs.Usage()
		return exitError{2}
	}
	if !strings.HasSuffix(strings.ToLower(*out), ".safetensors") {
		return fmt.Errorf("--out %s: want a .safetensors file name", *out)
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("--out %s exists (pass --force to replace it)", *out)
	} else if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("--out: %w", err)
	}
	if o.Finetune && mf.weights != "f32" {
		return errors.New("--finetune trains float32 weights: drop --weights")
	}
	ds, err := data.OpenImageFolder(rest[0], data.ImageOptions{})
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	o.Log = stderr
	ctx, stop := interruptContext()
	defer stop()
	res, err := train.TrainProbe(ctx, m, ds, o)
	if err != nil {
		return err
	}
	if err := res.Head.Save(*out, res.HeldOutTop1); err != nil {
		return err
	}
	classes := ds.Classes()
	var per []string
	for i, c := range classes {
		per = append(per, fmt.Sprintf("%s %.3f", c, res.PerClass[i]))
	}
	mode := "frozen encoder"
	if o.Finetune {
		mode = "encoder finetuned"
	}
	fmt.Fprintf(stdout, "held-out top-1 %.3f (train %.3f): %s head, %s, %d classes, %d training and %d held-out images, %s\n",
		res.HeldOutTop1, res.TrainTop1, res.Head.Kind, mode, len(classes), res.Train, res.HeldOut, res.Elapsed.Round(1e8))
	fmt.Fprintf(stdout, "per class: %s\n", strings.Join(per, ", "))
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// runClassify classifies images with a probe head; without --probe it is
// coca zeroshot.
func runClassify(args []string, stdout, stderr io.Writer) error {
	probe := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (name == "probe" || strings.HasPrefix(name, "probe=")) {
			probe = true
		}
	}
	if !probe && !helpAsked(args) {
		return runZeroShot(args, stdout, stderr)
	}
	fs := newFlags("classify", "[flags] --probe HEAD IMAGE|DIR ...  (without --probe: coca zeroshot's flags)",
		"coca classify --checkpoint runs/coca/model.safetensors --probe runs/coca/shapes-probe.safetensors --top 2 img.png\n"+
			"  coca classify --config coca_ViT-B-32 --checkpoint open_clip_pytorch_model.bin --classes classes.txt photos/   # zero-shot", stderr)
	mf := addModelFlags(fs)
	probePath := fs.String("probe", "", "a head written by coca probe")
	top := fs.Int("top", 1, "classes to print per image")
	jsonOut := fs.Bool("json", false, "write JSON lines {\"image\", \"top\": [{\"class\", \"prob\"}]} instead of path<TAB>prob class<TAB>...")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 || *probePath == "" {
		fs.Usage()
		return exitError{2}
	}
	if *top < 1 {
		return fmt.Errorf("--top %d: want at least 1", *top)
	}
	head, err := train.LoadProbe(*probePath)
	if err != nil {
		return err
	}
	paths, err := collectImages(rest)
	if err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	if err := head.Check(m); err != nil {
		return fmt.Errorf("--probe %s: %w", *probePath, err)
	}
	if err := head.Apply(m); err != nil {
		return fmt.Errorf("--probe %s: %w", *probePath, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	type scored struct {
		Class string  `json:"class"`
		Prob  float32 `json:"prob"`
	}
	const batch = 16
	c := len(head.Classes)
	for b0 := 0; b0 < len(paths); b0 += batch {
		group := paths[b0:min(b0+batch, len(paths))]
		images, err := loadImages(group, m.Config.Vision.ImageSize)
		if err != nil {
			return err
		}
		probs := head.Probs(m, images)
		for i, p := range group {
			row := probs[i*c : (i+1)*c]
			order := make([]int, c)
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
			var best []scored
			for _, j := range order[:min(*top, c)] {
				best = append(best, scored{head.Classes[j], row[j]})
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
	}
	return nil
}

// helpAsked reports whether args ask for usage.
func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", "[flags] --out DIR",
		"coca synth --out shapes/ --label shape --per-class 200   # shapes/circle/*.png, shapes/square/*.png, ...", stderr)
	var o data.SynthFolderOptions
	out := fs.String("out", "", "directory to write (must not exist or be empty; required)")
	fs.StringVar(&o.Label, "label", "shape", "what a class is: shape, colour, size, or class (size, colour and shape)")
	fs.IntVar(&o.PerClass, "per-class", 100, "images per class")
	difficulty := fs.String("difficulty", "default", "synthetic dataset difficulty: easy, default, hard")
	fs.IntVar(&o.ImageSize, "image-size", 40, "image side in pixels (coca_shapes sees 40)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 || *out == "" {
		fs.Usage()
		return exitError{2}
	}
	if o.Difficulty, err = data.ParseDifficulty(*difficulty); err != nil {
		return err
	}
	classes, err := data.WriteSynthFolder(*out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d images in %d classes (%s) to %s\n", len(classes)*o.PerClass, len(classes), strings.Join(classes, ", "), *out)
	return nil
}
