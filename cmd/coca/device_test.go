package main

import (
	"strings"
	"testing"

	"github.com/gococa/gococa/cuda"
	"github.com/gococa/gococa/tensor"
)

// TestDeviceFlag: --device cuda without CUDA support (or without a GPU)
// fails with one line naming the flag and the reason, before any work; an
// unknown device is rejected; the backend is the CPU's afterwards.
func TestDeviceFlag(t *testing.T) {
	img := writeImages(t, t.TempDir(), 1)[0]
	commands := [][]string{
		{"train", "--out", t.TempDir(), "--steps", "1"},
		{"verify", "--fixture", "../../golden/testdata/tiny"},
		append(append([]string{"caption"}, tinyFlags...), img),
		append(append([]string{"embed"}, tinyFlags...), "--images", img, "--out", t.TempDir()+"/e.jsonl"),
	}
	for _, args := range commands {
		name := args[0]
		if !cuda.Available() {
			code, out, errs := runCmd(append(args, "--device", "cuda")...)
			lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
			if code != 1 || out != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "coca "+name+": --device cuda: ") {
				t.Errorf("%s --device cuda: exit %d, stdout %q, stderr %q; want exit 1 and one line on stderr", name, code, out, errs)
			}
			// the reason: the default build's "built without CUDA support
			// (rebuild with -tags cuda)", or why a -tags cuda build finds no GPU
			if why := cuda.Probe().Error(); !strings.HasSuffix(lines[0], why) {
				t.Errorf("%s --device cuda: %q does not end with the reason %q", name, errs, why)
			}
		}
		code, _, errs := runCmd(append(args, "--device", "tpu")...)
		if code != 1 || !strings.Contains(errs, `--device "tpu": want cpu or cuda`) {
			t.Errorf("%s --device tpu: exit %d, stderr %q", name, code, errs)
		}
		if got := tensor.CurrentBackend().Name(); got != "cpu" {
			t.Fatalf("after %s the backend is %s", name, got)
		}
	}
}
