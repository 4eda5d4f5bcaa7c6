// Command caption captions an image with any CoCa checkpoint: a run
// directory or model that `coca train` wrote, an open_clip checkpoint
// (.bin or .safetensors), or a Hugging Face hub snapshot folder, with
// open_clip's default decoding (beam search, 6 beams):
//
//	go run ./examples/caption runs/shapes shapes.png
//	go run ./examples/caption ~/.cache/huggingface/hub/models--laion--mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k cat.jpg
//
// The program is coca.Open, Pipeline.Caption and a print; --start and --end
// give the start and end tokens of a model whose vocabulary is neither its
// tokenizer's nor CLIP's (such as open_clip's tiny test model).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "caption:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("caption", flag.ContinueOnError)
	start := fs.Int("start", -1, "start token (default: the model's tokenizer's)")
	end := fs.Int("end", -1, "end token (with --start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: caption [--start ID --end ID] MODEL IMAGE")
	}
	var opts []coca.OpenOption
	if *start >= 0 {
		opts = append(opts, coca.WithSpecialTokens(*start, *end))
	}

	model, err := coca.Open(fs.Arg(0), opts...)
	if err != nil {
		return err
	}
	img, err := data.LoadImage(fs.Arg(1))
	if err != nil {
		return err
	}
	caption, err := model.Caption(context.Background(), img)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, caption)
	return nil
}
