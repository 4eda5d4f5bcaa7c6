package torchfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"testing"
)

// pickleOf returns the data.pkl member of a checkpoint.
func pickleOf(f testing.TB, file string) []byte {
	zr, err := zip.OpenReader(file)
	if err != nil {
		f.Fatal(err)
	}
	defer zr.Close()
	for _, m := range zr.File {
		if path.Base(m.Name) == "data.pkl" {
			rc, err := m.Open()
			if err != nil {
				f.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Fatal(err)
			}
			return b
		}
	}
	f.Fatalf("%s: no data.pkl", file)
	return nil
}

// FuzzPickle runs arbitrary pickles through the VM, the state-dict search and
// tensor materialisation (storages are zero-filled stand-ins): no input may
// panic, and every tensor produced must have data matching its shape.
func FuzzPickle(f *testing.F) {
	for _, file := range []string{"views.bin", "views_p1.bin", "views_p4.bin", "tiny_ckpt.pt"} {
		f.Add(pickleOf(f, "testdata/"+file))
	}
	f.Add(stateDictPickle(func(p pk) pk {
		p = p.str("w").tensor("0", 6, 0, []int32{2, 3}, []int32{3, 1})
		return p.str("wt").tensor("0", 6, 1, []int32{2, 2}, []int32{1, 3})
	}))
	f.Add(stateDictPickle(func(p pk) pk { return p.str("x").tensor("1", 4, 2, []int32{3}, []int32{0}) }))
	f.Add([]byte(pk{0x80, 2}.global("os", "system").op('.')))
	f.Add([]byte{0x80, 2, '}', '(', 'K', 1, 'K', 2, 'u', '.'})
	tooBig := errors.New("storage too large for the fuzz stand-in")
	load := func(s *pyStorage) ([]byte, error) {
		n := s.numel * int64(s.dtype.Size())
		if n > 1<<20 {
			return nil, tooBig
		}
		return make([]byte, n), nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := stateDict(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			tt, err := materialise(e.name, e.t, load)
			if err != nil {
				continue
			}
			if got, want := len(tt.Raw()), tt.NumElements()*tt.DType.Size(); got != want {
				t.Fatalf("%q: %d bytes for shape %v of %s", e.name, got, tt.Shape, tt.DType)
			}
			if v := tt.Float32(); len(v) != tt.NumElements() {
				t.Fatalf("%q: %d values for shape %v", e.name, len(v), tt.Shape)
			}
		}
	})
}

// The seed corpus must include checkpoints that load, so the fuzzer starts
// from realistic pickles.
func TestFuzzSeedsLoad(t *testing.T) {
	for _, file := range []string{"views.bin", "tiny_ckpt.pt"} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(b), int64(len(b)), file); err != nil {
			t.Error(err)
		}
	}
}

// FuzzRead feeds whole archives to Read: corrupt zips, lying headers and
// hostile pickles must all come back as errors.
func FuzzRead(f *testing.F) {
	for _, file := range []string{"views.bin", "views_p4.bin"} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(zipFile(f, map[string][]byte{
		"a/data.pkl":  stateDictPickle(func(p pk) pk { return p.str("w").tensor("0", 2, 0, []int32{2}, []int32{1}) }),
		"a/data/0":    f32bytes(1, 2),
		"a/byteorder": []byte("big"),
	}))

	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.bin")
		if err != nil {
			return
		}
		for i := range ts {
			if len(ts[i].Raw()) != ts[i].NumElements()*ts[i].DType.Size() {
				t.Fatalf("%q: %d bytes for shape %v of %s", ts[i].Name, len(ts[i].Raw()), ts[i].Shape, ts[i].DType)
			}
		}
	})
}
