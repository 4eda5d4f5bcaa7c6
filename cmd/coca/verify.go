package main

import (
	"fmt"
	"io"

	"github.com/gococa/gococa/coca"
)

func init() {
	register("verify", "compare the model with reference fixtures: a training step (forward, losses, backward, greedy) or open_clip's generate() output", runVerify)
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "--fixture DIR [--fixture DIR ...] | --generate DIR [--generate DIR ...]",
		"coca verify --fixture golden/testdata/tiny\n  coca verify --generate golden/testdata/generate/tiny --weights bf16", stderr)
	var dirs, gens multiFlag
	fs.Var(&dirs, "fixture", "fixture directory holding config.json, weights.safetensors and io.safetensors (repeatable)")
	fs.Var(&gens, "generate", "generate fixture directory holding config.json (or open_clip_config.json), weights.safetensors and per case <case>.json with open_clip's generate() arguments and <case>.safetensors with its output (repeatable)")
	weights := fs.String("weights", "f32", "weight precision for --generate: f32, bf16 (matrices rounded to bfloat16: decisions open_clip won by a small margin can flip) or int8 (the text stacks' matrices in int8: more of them can flip; CPU only)")
	device := addDeviceFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dirs = append(dirs, fs.Args()...)
	if len(dirs)+len(gens) == 0 {
		fs.Usage()
		return exitError{2}
	}
	if *weights != "f32" && *weights != "bf16" && *weights != "int8" {
		return fmt.Errorf("--weights %q: want f32, bf16 or int8", *weights)
	}
	if *weights != "f32" && len(dirs) > 0 {
		return fmt.Errorf("--weights %s applies to --generate only: a training-step fixture's tolerances are those of float32", *weights)
	}
	if err := useDevice(*device, stderr); err != nil {
		return err
	}
	failed := 0
	many := len(dirs)+len(gens) > 1
	for _, d := range dirs {
		if many {
			fmt.Fprintf(stdout, "== %s\n", d)
		}
		n, err := coca.Verify(d, stdout)
		if err != nil {
			return err
		}
		if n > 0 {
			failed++
		}
	}
	for _, d := range gens {
		if many {
			fmt.Fprintf(stdout, "== %s\n", d)
		}
		n, err := coca.VerifyGenerate(d, stdout, coca.VerifyGenerateOptions{BF16: *weights == "bf16", Int8: *weights == "int8"})
		if err != nil {
			return err
		}
		if n > 0 {
			failed++
		}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
