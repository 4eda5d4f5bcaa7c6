package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
)

func init() {
	register("convert", "convert a PyTorch checkpoint (.bin/.pt) to .safetensors, optionally checking it against a config", runConvert)
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "[--config NAME|FILE] IN.bin OUT.safetensors",
		"coca convert --config coca_ViT-B-32 open_clip_pytorch_model.bin coca_ViT-B-32.safetensors", stderr)
	config := fs.String("config", "", "after converting, load the output as this config (built-in name or JSON file) and fail on any mismatch")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		fs.Usage()
		return exitError{2}
	}
	in, out := rest[0], rest[1]
	if !strings.HasSuffix(strings.ToLower(out), ".safetensors") {
		return fmt.Errorf("output %s: want a .safetensors file name", out)
	}
	if _, err := os.Stat(in); err != nil {
		return fmt.Errorf("checkpoint %s: %w", in, err)
	}
	var cfg *coca.Config
	if *config != "" {
		if cfg, err = coca.ResolveConfig(*config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if err := torchfile.ToSafetensors(in, out); err != nil {
		return err
	}
	f, err := safetensors.Open(out)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	n := f.Len()
	dtypes := map[string]int{}
	for _, name := range f.Names() {
		i, _ := f.Info(name)
		dtypes[string(i.DType)]++
	}
	f.Close()
	st, _ := os.Stat(out)
	fmt.Fprintf(stdout, "wrote %s: %d tensors %v, %.1f MB\n", out, n, dtypes, float64(st.Size())/1e6)
	if cfg != nil {
		m := coca.New(cfg)
		if err := m.LoadSafetensors(out); err != nil {
			return fmt.Errorf("%s (config %s)", summarizeLoadError(err), *config)
		}
		fmt.Fprintf(stdout, "%s loads as %s (%d parameters)\n", out, *config, m.NumParams())
	}
	return nil
}
