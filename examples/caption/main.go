// Command caption writes a caption for one image with an open_clip CoCa
// checkpoint, using open_clip's default decoding (beam search, 6 beams,
// up to 30 tokens):
//
//	go run ./examples/caption --checkpoint open_clip_pytorch_model.bin cat.jpg
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
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/torchfile"
	"github.com/gococa/gococa/tokenizer"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "caption:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("caption", flag.ContinueOnError)
	config := fs.String("config", "coca_ViT-B-32", "built-in config name or open_clip model-config JSON file")
	checkpoint := fs.String("checkpoint", "", "open_clip .bin/.pt or .safetensors weights (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *checkpoint == "" || fs.NArg() != 1 {
		return errors.New("usage: caption --checkpoint FILE [--config NAME|FILE] IMAGE")
	}

	// Build the model from its config and load the weights by open_clip's names.
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

	// open_clip's eval transform: resize, center crop, normalise.
	size := cfg.Vision.ImageSize
	pixels, err := data.PreprocessFile(fs.Arg(0), size)
	if err != nil {
		return err
	}
	image := tensor.FromSlice(pixels, 1, 3, size, size)

	// Decode and turn the token ids back into text.
	captions, err := m.Generate(image, coca.OpenCLIPGenerateOptions)
	if err != nil {
		return err
	}
	tok := tokenizer.New()
	fmt.Fprintf(stdout, "%s\t%s\n", fs.Arg(0), strings.TrimSpace(tok.Decode(tok.TrimSpecial(captions[0]))))
	return nil
}
