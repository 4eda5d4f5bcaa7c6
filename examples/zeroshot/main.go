// Command zeroshot classifies one image among class names given on the
// command line, with open_clip's 80 ImageNet prompt templates ("a photo of
// a {}.", ...), and prints the classes from most to least likely:
//
//	go run ./examples/zeroshot --classes "cat,dog,bird" open_clip_pytorch_model.bin pet.jpg
//
// The model is anything coca.Open reads: a .bin or .safetensors checkpoint
// (its config stored, beside it, or recognised from its tensor shapes), a
// coca train run directory, or a Hugging Face hub snapshot folder.
// --template "{}" uses the class names as they are.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "zeroshot:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("zeroshot", flag.ContinueOnError)
	classList := fs.String("classes", "", "comma-separated class names (required)")
	template := fs.String("template", "", `one prompt template, "{}" marking the class name (default: OpenAI's 80 ImageNet templates)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *classList == "" || fs.NArg() != 2 {
		return errors.New("usage: zeroshot --classes A,B,... [--template T] MODEL IMAGE")
	}
	var templates []string
	if *template != "" {
		templates = []string{*template}
	}

	model, err := coca.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	img, err := data.LoadImage(fs.Arg(1))
	if err != nil {
		return err
	}
	// Each class's weights are its text embedding averaged over the
	// templates (open_clip's build_zero_shot_classifier).
	preds, err := model.Classify(context.Background(), img, strings.Split(*classList, ","), templates...)
	if err != nil {
		return err
	}
	for _, p := range preds {
		fmt.Fprintf(stdout, "%.4f\t%s\n", p.Prob, p.Class)
	}
	return nil
}
