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

// TestVerifyGenerate runs the open_clip generate fixtures, then copies of
// one with a changed reference: a row one token shorter (the end token moved
// one place earlier), and a reference tensor one column narrower. Each must
// fail with exit 1 naming the case and the row.
func TestVerifyGenerate(t *testing.T) {
	const tiny = "../../golden/testdata/generate/tiny"
	var out, errb bytes.Buffer
	args := []string{"verify"}
	for _, d := range []string{"tiny", "parallel_wide", "odd", "cascade"} {
		args = append(args, "--generate", "../../golden/testdata/generate/"+d)
	}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d on the fixtures:\n%s%s", code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "verify --generate: PASS"); n != 4 {
		t.Fatalf("%d PASS lines, want 4:\n%s", n, out.String())
	}
	if n := strings.Count(out.String(), "\nok   "); n < 10+3*7-1 {
		t.Fatalf("%d cases ok, want every one:\n%s", n, out.String())
	}

	edit := func(name string, change func(tokens []int64, shape []int) ([]int64, []int)) string {
		dir := t.TempDir()
		ents, err := os.ReadDir(tiny)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".safetensors") && e.Name() != "weights.safetensors" && e.Name() != name+".safetensors" {
				continue
			}
			if strings.HasSuffix(e.Name(), ".json") && e.Name() != "config.json" && e.Name() != name+".json" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(tiny, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, name+".safetensors")
		src, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.Tensor
		for _, n := range src.Names() {
			info, _ := src.Info(n)
			raw, _ := src.Raw(n)
			tt := safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: append([]byte(nil), raw...)}
			if n == "output.tokens" {
				v, _ := src.Int64(n)
				v, shape := change(v, info.Shape)
				tt = safetensors.I64(n, shape, v)
			}
			ts = append(ts, tt)
		}
		src.Close()
		if err := safetensors.WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// topk1 row 3 is [1 4 4 4 4 31]: make it [1 4 4 4 31] (a decoder that
	// stops one token early would write that).
	shorter := edit("topk1", func(v []int64, shape []int) ([]int64, []int) {
		l := shape[1]
		row := v[3*l : 4*l]
		copy(row[4:], []int64{31, 0})
		return v, shape
	})
	// beam_default's reference one column narrower.
	narrower := edit("beam_default", func(v []int64, shape []int) ([]int64, []int) {
		l := shape[1]
		var w []int64
		for i := 0; i < shape[0]; i++ {
			w = append(w, v[i*l:(i+1)*l-1]...)
		}
		return w, []int{shape[0], l - 1}
	})
	for _, c := range []struct{ dir, want string }{
		{shorter, "FAIL topk1                        11/12 rows match; row 3: tokens [1 4 4 4 4 31 0 0 0 0 0 0], open_clip [1 4 4 4 31 0 0 0 0 0 0 0]"},
		{narrower, "FAIL beam_default                 0/12 rows match, width 12, open_clip 11; row 0:"},
	} {
		out.Reset()
		errb.Reset()
		if code := run([]string{"verify", "--generate", c.dir}, &out, &errb); code != 1 {
			t.Fatalf("exit %d on a changed fixture, want 1:\n%s%s", code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), c.want) || !strings.HasSuffix(out.String(), "verify --generate: FAIL (1 of 1 cases)\n") {
			t.Fatalf("output does not report %q:\n%s", c.want, out.String())
		}
	}
}
