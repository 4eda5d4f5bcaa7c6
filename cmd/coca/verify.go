package main

import (
	"fmt"
	"io"

	"github.com/gococa/gococa/coca"
)

func init() {
	register("verify", "run a golden fixture (forward, losses, backward, greedy) and compare with its reference values", runVerify)
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "--fixture DIR [--fixture DIR ...]",
		"coca verify --fixture golden/testdata/tiny", stderr)
	var dirs multiFlag
	fs.Var(&dirs, "fixture", "fixture directory holding config.json, weights.safetensors and io.safetensors (repeatable)")
	device := addDeviceFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dirs = append(dirs, fs.Args()...)
	if len(dirs) == 0 {
		fs.Usage()
		return exitError{2}
	}
	if err := useDevice(*device, stderr); err != nil {
		return err
	}
	failed := 0
	for _, d := range dirs {
		if len(dirs) > 1 {
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
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
