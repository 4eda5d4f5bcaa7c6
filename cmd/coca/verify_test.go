package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

func TestVerifyPassesAndFails(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"verify", "--fixture", "../../golden/testdata/tiny"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d on a good fixture:\n%s%s", code, out.String(), errb.String())
	}
	if !strings.HasSuffix(out.String(), "verify: PASS\n") {
		t.Fatalf("output does not end with the PASS line:\n%s", out.String())
	}

	// A copy whose reference gradient of one tensor is off by 1%.
	dir := t.TempDir()
	for _, f := range []string{"config.json", "weights.safetensors"} {
		b, err := os.ReadFile(filepath.Join("../../golden/testdata/tiny", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	src, err := safetensors.Open("../../golden/testdata/tiny/io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []safetensors.Tensor
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		raw, _ := src.Raw(n)
		tt := safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: append([]byte(nil), raw...)}
		if n == "grad.visual.proj" {
			v, _ := src.Float32(n)
			for i := range v {
				v[i] *= 1.01
			}
			tt = safetensors.F32(n, info.Shape, v)
		}
		ts = append(ts, tt)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "io.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"verify", "--fixture", dir}, &out, &errb); code != 1 {
		t.Fatalf("exit %d on a wrong fixture, want 1", code)
	}
	if !strings.Contains(out.String(), "FAIL grad.visual.proj") || !strings.HasSuffix(out.String(), "verify: FAIL (1 tensors)\n") {
		t.Fatalf("output does not flag grad.visual.proj:\n%s", out.String())
	}
}
