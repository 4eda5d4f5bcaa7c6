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
)

// modelFlags are the flags every inference command shares.
type modelFlags struct {
	config, checkpoint, pretrained, tokenizer, weights, device, precision string
	log                                                                   io.Writer // receives the device line
}

func addModelFlags(fs *flag.FlagSet) *modelFlags {
	mf := &modelFlags{}
	fs.StringVar(&mf.config, "config", "", "built-in config name (e.g. coca_ViT-B-32) or open_clip model-config JSON file (default: the config stored in the checkpoint, else open_clip_config.json or config.json beside it, else the built-in its tensor shapes show)")
	fs.StringVar(&mf.checkpoint, "checkpoint", "", "model weights: a .safetensors or PyTorch (.bin/.pt) file, a coca train run directory, or a Hugging Face hub snapshot folder")
	fs.StringVar(&mf.pretrained, "pretrained", "", "one of open_clip's published CoCa weights, read from the Hugging Face cache ($HF_HOME/hub, default ~/.cache/huggingface/hub) without network access: laion2b_s13b_b90k or mscoco_finetuned_laion2b_s13b_b90k with --config coca_ViT-B-32 or coca_ViT-L-14, or MODEL:TAG")
	fs.StringVar(&mf.tokenizer, "tokenizer", "auto", "clip, a BPE merges file, or auto (the checkpoint's own: stored in it or tokenizer.txt beside it; else clip)")
	fs.StringVar(&mf.weights, "weights", "f32", "weight precision: f32; bf16 (matrices rounded to bfloat16, the text stacks' kept in 16 bits, with --precision bf16 the vision tower's blocks' too: half their memory, and decoding reads 16-bit weights; read straight from float16/bfloat16 checkpoints); or int8 (the text stacks' matrices in int8 with a scale per output, the rest float32: decoding reads a quarter of float32's bytes; CPU only)")
	fs.StringVar(&mf.precision, "precision", "f32", precisionUsage)
	fs.StringVar(&mf.device, "device", "cpu", deviceUsage)
	mf.log = fs.Output()
	return mf
}

// check validates the flags before anything is read.
func (mf *modelFlags) check() error {
	if mf.weights != "f32" && mf.weights != "bf16" && mf.weights != "int8" {
		return usagef("--weights %q: want f32, bf16 or int8", mf.weights)
	}
	if mf.weights == "int8" && mf.device != "cpu" {
		return usagef("--weights int8 is the CPU's: drop --device %s or use --weights bf16", mf.device)
	}
	if err := checkPrecision(mf.precision, mf.device, false); err != nil {
		return err
	}
	switch {
	case mf.checkpoint != "" && mf.pretrained != "":
		return usagef("--checkpoint and --pretrained both name the weights: give one")
	case mf.checkpoint == "" && mf.pretrained == "":
		return usagef("--checkpoint (a file or folder) or --pretrained (a published tag) is required")
	}
	return nil
}

// open loads the model, its tokenizer and special tokens.
func (mf *modelFlags) open(extra ...coca.OpenOption) (*coca.Pipeline, error) {
	if err := mf.check(); err != nil {
		return nil, err
	}
	if err := useDevice(mf.device, mf.log); err != nil {
		return nil, err
	}
	path := mf.checkpoint
	var opts []coca.OpenOption
	if mf.pretrained != "" {
		p, err := coca.LookupPretrained(mf.config, mf.pretrained)
		if err != nil {
			return nil, err
		}
		if path, err = p.Path(""); err != nil {
			return nil, err
		}
		opts = append(opts, coca.WithConfig(p.Model))
	} else if mf.config != "" {
		opts = append(opts, coca.WithConfig(mf.config))
	}
	if mf.tokenizer != "auto" {
		opts = append(opts, coca.WithTokenizer(mf.tokenizer))
	}
	switch mf.weights {
	case "bf16":
		opts = append(opts, coca.WithBF16())
	case "int8":
		opts = append(opts, coca.WithInt8())
	}
	if mf.precision == "bf16" {
		opts = append(opts, coca.WithPrecision(tensor.PrecisionBF16))
		notePrecision(mf.precision, mf.log)
	}
	p, err := coca.Open(path, append(opts, extra...)...)
	var le *coca.LoadError
	if errors.As(err, &le) {
		msg := summarizeLoadError(le.Err) + " (config " + le.Config + ")"
		if le.Hint != "" {
			msg += "; its tensor shapes are those of the built-in config " + le.Hint + ": pass --config " + le.Hint
		}
		return nil, errors.New(msg)
	}
	return p, err
}

// summarizeLoadError turns coca's multi-line mismatch report into one line
// with at most three names per list.
func summarizeLoadError(err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	out := []string{strings.TrimSuffix(lines[0], ":")}
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		head, list, ok := strings.Cut(l, ": ")
		if !ok {
			out = append(out, l)
			continue
		}
		names := strings.Split(list, "; ")
		if len(names) > 3 {
			names = append(names[:3], "…")
		}
		out = append(out, head+" ("+strings.Join(names, "; ")+")")
	}
	return out[0] + ": " + strings.Join(out[1:], ", ")
}

// readLines returns the non-empty lines of a file, trimmed.
func readLines(path, what string) ([]string, error) {
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: not a regular file", what, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %s: no lines", what, path)
	}
	return out, nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (a lone "--" ends the flags) and returns the
// positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// load opens the model alone, for commands that need neither its
// tokenizer nor its special tokens.
func (mf *modelFlags) load() (*coca.Model, error) {
	p, err := mf.open()
	if err != nil {
		return nil, err
	}
	return p.Model(), nil
}

// collectImages expands directories into their image files (not
// recursively) and checks that every named file is a regular file.
func collectImages(args []string) ([]string, error) {
	f := &imageFlags{cmd: "coca", log: io.Discard}
	return f.collect(args)
}

// loadImages decodes and preprocesses paths in parallel into (N, 3, S, S).
// The error names the first unreadable file.
func loadImages(paths []string, size int) (*tensor.Tensor, error) {
	imgs, errs := decodeImages(paths)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	per := 3 * size * size
	buf := make([]float32, len(paths)*per)
	for i, img := range imgs {
		data.PreprocessInto(buf[i*per:(i+1)*per], img, size)
	}
	return tensor.FromSlice(buf, len(paths), 3, size, size), nil
}
