package safetensors

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse checks that no input makes Parse or the accessors panic, and that
// whatever parses survives a write and re-parse unchanged.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleTensors(), map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	if tiny, err := os.ReadFile("testdata/tiny_weights.safetensors"); err == nil {
		// The header and the first tensors only, to keep the seed small.
		f.Add(tiny[:20000])
	}
	for _, c := range malformedCases() {
		f.Add(c.data)
	}
	f.Add(file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[6,6]}}`, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		var ts []Tensor
		for _, n := range p.Names() {
			in, ok := p.Info(n)
			if !ok {
				t.Fatalf("Info(%q) missing", n)
			}
			v, err := p.Float32(n)
			if err != nil || len(v) != in.NumElements() {
				t.Fatalf("Float32(%q): %d values, %v", n, len(v), err)
			}
			p.Int64(n)
			p.BF16(n)
			p.F16(n)
			raw, err := p.Raw(n)
			if err != nil || int64(len(raw)) != in.NumBytes() {
				t.Fatalf("Raw(%q): %d bytes, %v", n, len(raw), err)
			}
			ts = append(ts, Tensor{Name: n, DType: in.DType, Shape: in.Shape, Data: raw})
		}
		var out bytes.Buffer
		if err := Write(&out, ts, p.Metadata()); err != nil {
			t.Fatalf("re-Write: %v", err)
		}
		q, err := Parse(out.Bytes(), "rewritten")
		if err != nil {
			t.Fatalf("re-Parse: %v", err)
		}
		if q.Len() != p.Len() || len(q.Metadata()) != len(p.Metadata()) {
			t.Fatalf("re-Parse: %d tensors, want %d", q.Len(), p.Len())
		}
		for _, n := range p.Names() {
			a, _ := p.Raw(n)
			b, err := q.Raw(n)
			if err != nil || !bytes.Equal(a, b) {
				t.Fatalf("%q changed in round trip", n)
			}
		}
	})
}
