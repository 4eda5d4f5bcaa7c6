package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
)

func init() {
	register("convert", "convert a PyTorch checkpoint (.bin/.pt) to .safetensors, optionally checking it against a config and storing it", runConvert)
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "[--config NAME|FILE] IN.bin OUT.safetensors",
		"coca convert --config coca_ViT-B-32 open_clip_pytorch_model.bin coca_ViT-B-32.safetensors", stderr)
	config := fs.String("config", "", "check that the weights load as this config (built-in name or open_clip JSON file) before writing, and store it in the output, so that later commands need no --config")
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
		return usagef("output %s: want a .safetensors file name", out)
	}
	st, err := os.Stat(in)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", in, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("checkpoint %s: not a regular file", in)
	}
	meta := map[string]string{"format": "pt", "converted_from": path.Base(strings.ReplaceAll(in, "\\", "/"))}
	var cfg *coca.Config
	if *config != "" {
		if cfg, err = coca.ResolveConfig(*config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		// Check before writing anything.
		ck, err := coca.OpenCheckpoint(in)
		if err != nil {
			return err
		}
		m := coca.New(cfg)
		err = m.Load(ck.Source(), in)
		if err != nil {
			msg := summarizeLoadError(err) + " (config " + *config + ")"
			if _, name, derr := coca.DetectConfig(ck.Source()); derr == nil && name != *config {
				msg += "; its tensor shapes are those of the built-in config " + name
			}
			ck.Close()
			return errors.New(msg)
		}
		ck.Close()
		meta["coca_config"] = string(cfg.JSON())
	}
	ts, err := torchfile.Load(in)
	if err != nil {
		return err
	}
	st2 := make([]safetensors.Tensor, len(ts))
	dtypes := map[string]int{}
	for i := range ts {
		st2[i] = ts[i].Safetensor()
		dtypes[termSafe(string(st2[i].DType))]++
	}
	if err := safetensors.WriteFile(out, st2, meta); err != nil {
		return fmt.Errorf("converting %s: %w", in, err)
	}
	var kinds []string
	for k, n := range dtypes {
		kinds = append(kinds, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(kinds)
	size := int64(0)
	if fi, err := os.Stat(out); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors [%s], %.1f MB\n", termSafe(out), len(ts), strings.Join(kinds, " "), float64(size)/1e6)
	if cfg != nil {
		m := coca.New(cfg)
		if err := m.LoadSafetensors(out); err != nil {
			return fmt.Errorf("reading back %s: %s", out, summarizeLoadError(err))
		}
		fmt.Fprintf(stdout, "%s loads as %s (%d parameters; the config is stored in it)\n", termSafe(out), termSafe(*config), m.NumParams())
	}
	return nil
}
