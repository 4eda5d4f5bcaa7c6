// Command zeroshot classifies one image among class names given on the
// command line, with open_clip's 80 ImageNet prompt templates ("a photo of
// a {}.", ...), and prints the classes from most to least likely:
//
//	go run ./examples/zeroshot --checkpoint open_clip_pytorch_model.bin --classes "cat,dog,bird" pet.jpg
//
// --config is a built-in config name (default coca_ViT-B-32) or an open_clip
// model-config JSON file; --checkpoint is open_clip's .bin/.pt or a
// .safetensors file (see `coca convert`).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/torchfile"
	"github.com/gococa/gococa/tokenizer"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "zeroshot:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("zeroshot", flag.ContinueOnError)
	config := fs.String("config", "coca_ViT-B-32", "built-in config name or open_clip model-config JSON file")
	checkpoint := fs.String("checkpoint", "", "open_clip .bin/.pt or .safetensors weights (required)")
	classList := fs.String("classes", "", "comma-separated class names (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *checkpoint == "" || *classList == "" || fs.NArg() != 1 {
		return errors.New("usage: zeroshot --checkpoint FILE --classes A,B,... [--config NAME|FILE] IMAGE")
	}
	classes := strings.Split(*classList, ",")

	cfg, err := coca.ResolveConfig(*config)
	if err != nil {
		return err
	}
	m := coca.New(cfg)
	if strings.HasSuffix(*checkpoint, ".safetensors") {
		err = m.LoadSafetensors(*checkpoint)
	} else {
		var ck *torchfile.Checkpoint
		if ck, err = torchfile.Open(*checkpoint); err == nil {
			err = m.Load(ck, *checkpoint)
		}
	}
	if err != nil {
		return err
	}

	// The classifier: each class's text features, averaged over the
	// templates and normalised (open_clip's build_zero_shot_classifier).
	tok := tokenizer.New()
	tokenize := func(s string) []int { return tok.Tokenize(s, cfg.Text.ContextLength) }
	weights, err := m.ClassEmbeddings(classes, coca.OpenAIImageNetTemplates, tokenize, 64)
	if err != nil {
		return err
	}

	size := cfg.Vision.ImageSize
	pixels, err := data.PreprocessFile(fs.Arg(0), size)
	if err != nil {
		return err
	}
	defer tensor.NoGrad()()
	features, _ := m.EncodeImage(tensor.FromSlice(pixels, 1, 3, size, size))
	probs := m.ZeroShotProbs(features, weights)

	order := make([]int, len(classes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	for _, c := range order {
		fmt.Fprintf(stdout, "%.4f\t%s\n", probs[c], classes[c])
	}
	return nil
}
