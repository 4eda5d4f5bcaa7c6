package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The expected values below were read from testdata/tiny_weights.safetensors
// (a copy of the golden fixture tiny/weights.safetensors, written by open_clip)
// with Debian's /usr/bin/python3 and torch 1.13: json.loads of the header, then
// torch.frombuffer(..., dtype=torch.float32).reshape(shape) per tensor, printing
// repr(float(x)) of the first elements, the last one and t.double().sum().
func TestTinyFixture(t *testing.T) {
	f, err := Open("testdata/tiny_weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Len() != 129 {
		t.Errorf("Len() = %d, want 129", f.Len())
	}
	if m := f.Metadata(); m["format"] != "pt" || m["source"] != "open_clip 2.29.0" || len(m) != 2 {
		t.Errorf("Metadata() = %v", m)
	}
	names := f.Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() not sorted")
	}
	if names[0] != "logit_scale" || names[1] != "text.cls_emb" || names[len(names)-1] != "visual.transformer.resblocks.1.mlp.c_proj.weight" {
		t.Errorf("Names() = %q ... %q", names[:2], names[len(names)-1])
	}
	total := 0
	for _, n := range names {
		in, _ := f.Info(n)
		if in.DType != DTypeF32 {
			t.Errorf("%s: dtype %s, want F32", n, in.DType)
		}
		total += in.NumElements()
	}
	if total != 155553 {
		t.Errorf("total elements %d, want 155553", total)
	}
	cases := []struct {
		name  string
		shape []int
		first []float64
		last  float64
		sum   float64
	}{
		{"logit_scale", []int{}, []float64{2.6592600345611572}, 2.6592600345611572, 2.6592600345611572},
		{"text.positional_embedding", []int{13, 32},
			[]float64{-0.009916244074702263, -0.0072869183495640755, 0.013225140050053596, -0.016050707548856735},
			-0.001516185700893402, -1.1482287183171138},
		{"visual.proj", []int{32, 32},
			[]float64{0.1711830347776413, -0.08430233597755432, 0.29370546340942383, -0.2536309063434601},
			-0.2837214171886444, -2.08742058230564},
		{"visual.conv1.weight", []int{48, 3, 8, 8},
			[]float64{-0.1254354864358902, 0.04822437837719917, -0.011425964534282684, -0.09372952580451965},
			0.021822256967425346, 6.932739381860301},
		{"text_decoder.resblocks.1.mlp.c_proj.bias", []int{32},
			[]float64{-0.062155477702617645, 0.025027703493833542, -0.07497682422399521, -0.11063215136528015},
			0.1077689528465271, 0.04637862369418144},
	}
	for _, c := range cases {
		in, ok := f.Info(c.name)
		if !ok {
			t.Errorf("no tensor %q", c.name)
			continue
		}
		if !slices.Equal(in.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.name, in.Shape, c.shape)
		}
		v, err := f.Float32(c.name)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.first {
			if v[i] != float32(w) {
				t.Errorf("%s[%d] = %v, want %v", c.name, i, v[i], w)
			}
		}
		if v[len(v)-1] != float32(c.last) {
			t.Errorf("%s[last] = %v, want %v", c.name, v[len(v)-1], c.last)
		}
		s := 0.0
		for _, x := range v {
			s += float64(x)
		}
		if math.Abs(s-c.sum) > 1e-12*float64(len(v)) {
			t.Errorf("%s: sum %v, want %v", c.name, s, c.sum)
		}
		raw, err := f.Raw(c.name)
		if err != nil || len(raw) != 4*len(v) || math.Float32frombits(binary.LittleEndian.Uint32(raw)) != v[0] {
			t.Errorf("%s: Raw() = %d bytes, %v", c.name, len(raw), err)
		}
	}
}

func TestRewriteFixture(t *testing.T) {
	src, err := Open("testdata/tiny_weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []Tensor
	for _, n := range src.Names() {
		in, _ := src.Info(n)
		raw, _ := src.Raw(n)
		ts = append(ts, Tensor{Name: n, DType: in.DType, Shape: in.Shape, Data: raw})
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(path, ts, src.Metadata()); err != nil {
		t.Fatal(err)
	}
	got, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !slices.Equal(got.Names(), src.Names()) {
		t.Fatal("names differ after rewrite")
	}
	for _, n := range src.Names() {
		a, _ := src.Raw(n)
		b, _ := got.Raw(n)
		ia, _ := src.Info(n)
		ib, _ := got.Info(n)
		if !bytes.Equal(a, b) || !slices.Equal(ia.Shape, ib.Shape) || ia.DType != ib.DType {
			t.Errorf("%s differs after rewrite", n)
		}
	}
	// One dtype: the header lists tensors in name order with contiguous offsets.
	st, _ := os.Stat(path)
	var want int64
	for _, n := range got.Names() {
		in, _ := got.Info(n)
		if in.Begin != want {
			t.Fatalf("%s begins at %d, want %d", n, in.Begin, want)
		}
		want = in.End
	}
	hdr := make([]byte, 8)
	fd, _ := os.Open(path)
	fd.Read(hdr)
	fd.Close()
	if hl := int64(binary.LittleEndian.Uint64(hdr)); hl%8 != 0 || 8+hl+want != st.Size() {
		t.Errorf("header length %d, data %d, file %d", hl, want, st.Size())
	}
}

func sampleTensors() []Tensor {
	le := binary.LittleEndian
	i32 := make([]byte, 4*3)
	for i, v := range []int32{-7, 0, 1 << 30} {
		le.PutUint32(i32[4*i:], uint32(v))
	}
	f64 := make([]byte, 8*2)
	le.PutUint64(f64, math.Float64bits(1.0/3))
	le.PutUint64(f64[8:], math.Float64bits(-1e300))
	i16 := make([]byte, 4)
	le.PutUint16(i16, uint16(0xffff)) // -1
	le.PutUint16(i16[2:], 300)
	return []Tensor{
		F32("weights", []int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-40}),
		I64("ids", []int{4}, []int64{0, -1, math.MaxInt64, 1 << 40}),
		BF16FromF32("bf", []int{3}, []float32{1, -2.5, 3.1415927}),
		F16FromF32("half", []int{1, 2}, []float32{0.1, -65504}),
		F32("scalar", []int{}, []float32{42}),
		F32("empty", []int{0, 5}, nil),
		{Name: "mask", DType: DTypeBool, Shape: []int{3}, Data: []byte{1, 0, 1}},
		{Name: "bytes", DType: DTypeU8, Shape: []int{5}, Data: []byte{0, 1, 2, 254, 255}},
		{Name: "i8", DType: DTypeI8, Shape: []int{1}, Data: []byte{0x80}},
		{Name: "i32", DType: DTypeI32, Shape: []int{3}, Data: i32},
		{Name: "i16", DType: DTypeI16, Shape: []int{2}, Data: i16},
		{Name: "f64", DType: DTypeF64, Shape: []int{2}, Data: f64},
		F32(`we"ird\name`+"\n\x01é", []int{1}, []float32{7}),
	}
}

func TestRoundTrip(t *testing.T) {
	ts := sampleTensors()
	meta := map[string]string{"format": "pt", "note": `<a & "b">` + "\t"}
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	// Deterministic whatever the input order.
	rev := slices.Clone(ts)
	slices.Reverse(rev)
	var buf2 bytes.Buffer
	if err := Write(&buf2, rev, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Error("output depends on input order")
	}
	hl := binary.LittleEndian.Uint64(buf.Bytes())
	if hl%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", hl)
	}
	f, err := Parse(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata()) != 2 || f.Metadata()["note"] != meta["note"] {
		t.Errorf("metadata %v", f.Metadata())
	}
	if f.Len() != len(ts) {
		t.Fatalf("Len %d, want %d", f.Len(), len(ts))
	}
	for _, w := range ts {
		in, ok := f.Info(w.Name)
		if !ok {
			t.Fatalf("missing %q", w.Name)
		}
		raw, err := f.Raw(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if in.DType != w.DType || !slices.Equal(in.Shape, w.Shape) || !bytes.Equal(raw, w.Data) {
			t.Errorf("%q: got %s %v %x, want %s %v %x", w.Name, in.DType, in.Shape, raw, w.DType, w.Shape, w.Data)
		}
		// Aligned as the reference writer aligns: each tensor starts at a
		// multiple of its element size (the header is padded to 8).
		if in.Begin%int64(in.DType.Size()) != 0 {
			t.Errorf("%q begins at %d, not aligned to %d", w.Name, in.Begin, in.DType.Size())
		}
	}
	// Conversions.
	check := func(name string, want []float32) {
		t.Helper()
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	check("weights", []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-40})
	check("ids", []float32{0, -1, float32(math.MaxInt64), 1 << 40})
	check("bf", []float32{1, -2.5, 3.140625}) // 3.1415927 rounds to 0x4049 = 3.140625
	check("half", []float32{0.0999755859375, -65504})
	check("scalar", []float32{42})
	check("empty", []float32{})
	check("mask", []float32{1, 0, 1})
	check("bytes", []float32{0, 1, 2, 254, 255})
	check("i8", []float32{-128})
	check("i32", []float32{-7, 0, 1 << 30})
	check("i16", []float32{-1, 300})
	check("f64", []float32{float32(1.0 / 3), float32(math.Inf(-1))})
	ids, err := f.Int64("ids")
	if err != nil || !slices.Equal(ids, []int64{0, -1, math.MaxInt64, 1 << 40}) {
		t.Errorf("Int64(ids) = %v, %v", ids, err)
	}
	if v, err := f.Int64("i32"); err != nil || !slices.Equal(v, []int64{-7, 0, 1 << 30}) {
		t.Errorf("Int64(i32) = %v, %v", v, err)
	}
	if v, err := f.Int64("mask"); err != nil || !slices.Equal(v, []int64{1, 0, 1}) {
		t.Errorf("Int64(mask) = %v, %v", v, err)
	}
	if _, err := f.Int64("weights"); err == nil || !strings.Contains(err.Error(), `"weights"`) {
		t.Errorf("Int64 of F32: err %v", err)
	}
	if h, err := f.BF16("bf"); err != nil || !slices.Equal(h, []uint16{0x3f80, 0xc020, 0x4049}) {
		t.Errorf("BF16(bf) = %x, %v", h, err)
	}
	if h, err := f.F16("half"); err != nil || !slices.Equal(h, []uint16{0x2e66, 0xfbff}) {
		t.Errorf("F16(half) = %x, %v", h, err)
	}
	if _, err := f.BF16("half"); err == nil {
		t.Error("BF16 of an F16 tensor: no error")
	}
	if _, err := f.F16("weights"); err == nil {
		t.Error("F16 of an F32 tensor: no error")
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing tensor: err %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Raw("weights"); !errors.Is(err, ErrClosed) {
		t.Errorf("Raw after Close: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	// 8-byte length, "{}" padded with spaces to 8 bytes.
	want := append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, "{}      "...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("empty file = %q, want %q", buf.Bytes(), want)
	}
	f, err := Parse(buf.Bytes(), "empty")
	if err != nil || f.Len() != 0 || f.Metadata() != nil {
		t.Errorf("Parse(empty) = %v, %v", f, err)
	}
}

func TestWriteErrors(t *testing.T) {
	cases := []struct {
		ts   []Tensor
		want string
	}{
		{[]Tensor{F32("a", []int{1}, []float32{1}), F32("a", []int{1}, []float32{2})}, `duplicate tensor name "a"`},
		{[]Tensor{{Name: "x", DType: "F8", Shape: []int{1}, Data: []byte{0}}}, `tensor "x": unknown dtype "F8"`},
		{[]Tensor{{Name: "x", DType: DTypeF32, Shape: []int{2}, Data: []byte{0, 0, 0, 0}}}, `tensor "x": shape [2] of F32 needs 8 bytes, data has 4`},
		{[]Tensor{{Name: "x", DType: DTypeF32, Shape: []int{-1}}}, `tensor "x": negative dimension`},
		{[]Tensor{F32("", []int{1}, []float32{1})}, "empty name"},
		{[]Tensor{F32("__metadata__", []int{1}, []float32{1})}, "reserved"},
		{[]Tensor{F32("\xff", []int{1}, []float32{1})}, "UTF-8"},
	}
	for _, c := range cases {
		err := Write(&bytes.Buffer{}, c.ts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Write: err %v, want %q", err, c.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "F32") {
			t.Errorf("F32 with wrong length: recover() = %v", r)
		}
	}()
	F32("x", []int{2, 2}, []float32{1, 2, 3})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	orig := []Tensor{F32("a", []int{2}, []float32{1, 2})}
	if err := WriteFile(path, orig, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	// A validation failure leaves the existing file alone.
	bad := []Tensor{{Name: "b", DType: DTypeF32, Shape: []int{3}, Data: []byte{1}}}
	if err := WriteFile(path, bad, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile(bad) err = %v, want one naming %s", err, path)
	}
	// A failure while writing the data leaves it alone too.
	failing := []Tensor{F32("a", []int{1 << 16}, make([]float32, 1<<16))}
	testHookWrite = func() error { return errors.New("disk full") }
	err := WriteFile(path, failing, nil)
	testHookWrite = nil
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteFile with failing write: err %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed WriteFile changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the original file", names)
	}
	// A success replaces it.
	if err := WriteFile(path, []Tensor{F32("c", []int{1}, []float32{3})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !slices.Equal(f.Names(), []string{"c"}) {
		t.Errorf("names after replace: %v", f.Names())
	}
	// A missing directory is an error naming the path.
	if err := WriteFile(filepath.Join(dir, "no", "x.safetensors"), orig, nil); err == nil {
		t.Error("WriteFile into a missing directory: no error")
	}
}

// file builds a safetensors byte stream from a header string and data length.
func file(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func malformedCases() []struct {
	name string
	data []byte
	want string
} {
	absurd := make([]byte, 16)
	binary.LittleEndian.PutUint64(absurd, 1<<63)
	past := make([]byte, 16)
	binary.LittleEndian.PutUint64(past, 100)
	return []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"absurd header length", absurd, "header length 9223372036854775808 exceeds"},
		{"header past end", past, "header length 100 past end of file (16 bytes)"},
		{"invalid json", file(`{"a":`, 0), "header: "},
		{"not object", file(`[1,2]`, 0), "not an object"},
		{"invalid utf8", file("{\"\xff\":1}", 0), "UTF-8"},
		{"trailing", file(`{} x`, 0), "after the JSON object"},
		{"duplicate", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `duplicate tensor name "a"`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, 0), `duplicate "__metadata__"`},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, 0), `"__metadata__" is not a map`},
		{"past end", file(`{"visual.proj":{"dtype":"F32","shape":[10,10],"data_offsets":[0,400]}}`, 320), `tensor "visual.proj": data_offsets [0 400] past end of data (320 bytes)`},
		{"begin after end", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8), `tensor "w": data_offsets [8 4]: begin > end`},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), `tensor "b": data_offsets [4 12] overlap tensor "a" [0 8]`},
		{"size mismatch", file(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, 24), `tensor "w": shape [2 3] of F32 needs 24 bytes but data_offsets [0 20] hold 20`},
		{"shape overflow", file(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, 4), `tensor "w": shape`},
		{"negative dim", file(`{"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,4]}}`, 4), `tensor "w": shape[1] = -3 is negative`},
		{"fractional dim", file(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), `tensor "w": shape[0] = 1.5 is not an integer`},
		{"unknown dtype", file(`{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": unknown dtype "F33"`},
		{"missing dtype", file(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": missing dtype`},
		{"missing shape", file(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "w": missing shape`},
		{"one offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), `tensor "w": data_offsets has 1 values`},
		{"negative offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), `tensor "w": data_offsets[0] = -4`},
		{"entry not object", file(`{"w":5}`, 0), `tensor "w": invalid entry`},
		{"dtype not string", file(`{"w":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": invalid entry`},
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range malformedCases() {
		f, err := Parse(c.data, "model.safetensors")
		if err == nil {
			t.Errorf("%s: no error (%d tensors)", c.name, f.Len())
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "safetensors: model.safetensors: ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want it to name the file and contain %q", c.name, msg, c.want)
		}
	}
	// Open reports the same problems for files on disk, and names the path.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(path, file(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, 8), 0o644)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path+`: tensor "w": data_offsets [0 12] past end of data (8 bytes)`) {
		t.Errorf("Open(truncated) err = %v", err)
	}
	os.WriteFile(path, []byte{1}, 0o644)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(1 byte) err = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open(missing) no error")
	}
}

// Gaps between tensors and zero-length tensors sharing an offset are legal.
func TestLenientLayout(t *testing.T) {
	data := file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[6,6]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 8)
	f, err := Parse(data, "gaps")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"a", "b", "e"}) {
		t.Errorf("names %v", f.Names())
	}
}

func TestF16Conversion(t *testing.T) {
	// Values fixed by the binary16 format definition.
	known := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0400: 1.0 / (1 << 14),
		0x0001: 1.0 / (1 << 24), 0x03ff: 1023.0 / (1 << 24), 0x3555: 0.333251953125,
		0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)),
	}
	for h, want := range known {
		if got := F16ToFloat32(h); got != want {
			t.Errorf("F16ToFloat32(%#04x) = %v, want %v", h, got, want)
		}
		if got := Float32ToF16(want); got != h {
			t.Errorf("Float32ToF16(%v) = %#04x, want %#04x", want, got, h)
		}
	}
	// Every half widens and narrows back to itself.
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToFloat32(h)
		back := Float32ToF16(f)
		if math.IsNaN(float64(f)) {
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
	// Random floats round to nearest, ties to even.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		f := math.Float32frombits(r.Uint32())
		if i%2 == 0 { // concentrate on the half range
			f = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25)))
		}
		if math.IsNaN(float64(f)) {
			continue
		}
		checkNearest(t, "F16", f, Float32ToF16(f), F16ToFloat32, 0x7bff)
	}
	// Ties: halfway between 1 and the next half (1+2^-10) goes to even (1).
	if got := Float32ToF16(1 + 1.0/(1<<11)); got != 0x3c00 {
		t.Errorf("tie 1+2^-11 -> %#04x, want 0x3c00", got)
	}
	if got := Float32ToF16(1 + 3.0/(1<<11)); got != 0x3c02 {
		t.Errorf("tie 1+3*2^-11 -> %#04x, want 0x3c02", got)
	}
	// Subnormal ties: 2^-25 is halfway between 0 and the smallest subnormal,
	// 3*2^-25 halfway between 1 and 2 units, 5*2^-26 just above 1 unit's tie.
	for f, want := range map[float32]uint16{
		1.0 / (1 << 25): 0x0000, 3.0 / (1 << 25): 0x0002, 5.0 / (1 << 26): 0x0001,
		-3.0 / (1 << 25): 0x8002, 1.0 / (1 << 26): 0x0000, 2047.0 / (1 << 25): 0x0400,
	} {
		if got := Float32ToF16(f); got != want {
			t.Errorf("Float32ToF16(%g) = %#04x, want %#04x", f, got, want)
		}
	}
}

func TestBF16Conversion(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			if h := Float32ToBF16(f); !math.IsNaN(float64(BF16ToFloat32(h))) {
				t.Fatalf("NaN %#08x -> %#04x", math.Float32bits(f), h)
			}
			continue
		}
		checkNearest(t, "BF16", f, Float32ToBF16(f), BF16ToFloat32, 0x7f7f)
	}
	if got := Float32ToBF16(math.Float32frombits(0x3f808000)); got != 0x3f80 {
		t.Errorf("tie rounds to %#04x, want even 0x3f80", got)
	}
	if got := Float32ToBF16(math.Float32frombits(0x3f818000)); got != 0x3f82 {
		t.Errorf("tie rounds to %#04x, want even 0x3f82", got)
	}
}

// checkNearest verifies that h is a correctly rounded 16-bit encoding of f:
// no neighbouring encoding is closer, and on a tie h is even.
func checkNearest(t *testing.T, kind string, f float32, h uint16, widen func(uint16) float32, maxFinite uint16) {
	t.Helper()
	mag := h & 0x7fff
	got := float64(widen(h))
	x := float64(f)
	if math.IsInf(got, 0) {
		// Overflow: f must be at least halfway past the largest finite value.
		top := float64(widen(maxFinite))
		next := top + (top - float64(widen(maxFinite-1)))
		if math.Abs(x) < (top+next)/2 {
			t.Fatalf("%s(%g) overflowed to Inf", kind, f)
		}
		return
	}
	if (x < 0) != (h&0x8000 != 0) && x != 0 {
		t.Fatalf("%s(%g): sign wrong (%#04x)", kind, f, h)
	}
	d := math.Abs(got - x)
	for _, nb := range []uint16{mag - 1, mag + 1} {
		if mag == 0 && nb == 0xffff || nb > maxFinite {
			continue
		}
		v := math.Abs(float64(widen(nb)))
		dn := math.Abs(v - math.Abs(x))
		if dn < d || (dn == d && mag&1 == 1) {
			t.Fatalf("%s(%g) = %#04x (%g), but %#04x (%g) is nearer or the even tie", kind, f, h, got, nb, v)
		}
	}
}

func TestDecodeHelpers(t *testing.T) {
	if _, err := DecodeFloat32("X", []byte{1}); err == nil {
		t.Error("DecodeFloat32 unknown dtype: no error")
	}
	if _, err := DecodeFloat32(DTypeF32, []byte{1, 2, 3}); err == nil {
		t.Error("DecodeFloat32 ragged: no error")
	}
	if _, err := DecodeInt64(DTypeF32, []byte{1, 2, 3, 4}); err == nil {
		t.Error("DecodeInt64 of floats: no error")
	}
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, 1<<63)
	if _, err := DecodeInt64(DTypeU64, big); err == nil {
		t.Error("DecodeInt64 U64 overflow: no error")
	}
}

// The table-driven F16 path of Float32 agrees with F16ToFloat32 bit for bit.
func TestF16Table(t *testing.T) {
	raw := make([]byte, 2<<16)
	for i := range 1 << 16 {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(i))
	}
	v, err := DecodeFloat32(DTypeF16, raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range v {
		if math.Float32bits(f) != math.Float32bits(F16ToFloat32(uint16(i))) {
			t.Fatalf("%#04x: table %v, F16ToFloat32 %v", i, f, F16ToFloat32(uint16(i)))
		}
	}
}

// nearestBF16 is an independent reference for rounding a finite float64 x
// that a float32 holds exactly to bfloat16: the two bfloat16 neighbours by
// truncation, the nearer one, ties to the even one.
func nearestBF16(x float64) uint16 {
	b := math.Float32bits(float32(x))
	lo := uint16(b >> 16) // toward zero
	hi := lo + 1          // away from zero (may become Inf: still the neighbour)
	dlo := math.Abs(x - float64(BF16ToFloat32(lo)))
	dhi := math.Abs(float64(BF16ToFloat32(hi)) - x)
	switch {
	case dlo < dhi:
		return lo
	case dhi < dlo:
		return hi
	case lo&1 == 0:
		return lo
	}
	return hi
}

// TestF16ToBF16 checks the rounding of every binary16 value to bfloat16
// against nearestBF16 (NaN stays NaN, infinities stay infinite).
func TestF16ToBF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		x := F16ToFloat32(h)
		got := F16ToBF16(h)
		switch {
		case x != x:
			if g := BF16ToFloat32(got); g == g {
				t.Fatalf("%#04x (NaN) -> %#04x, not NaN", h, got)
			}
		case math.IsInf(float64(x), 0):
			if BF16ToFloat32(got) != x {
				t.Fatalf("%#04x (%v) -> %#04x", h, x, got)
			}
		default:
			if want := nearestBF16(float64(x)); got != want {
				t.Fatalf("%#04x (%v) -> %#04x (%v), want %#04x (%v)", h, x, got, BF16ToFloat32(got), want, BF16ToFloat32(want))
			}
		}
	}
}

// TestDecodeBF16 converts every float dtype and two integer ones straight to
// bfloat16 and compares with rounding DecodeFloat32's values, and checks
// the errors.
func TestDecodeBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -2.5, 65504, 1e-7, 3.0000002, float32(math.Inf(-1)), float32(math.NaN()), 1.00390625, 1.01171875}
	for range 2000 {
		vals = append(vals, float32(rng.NormFloat64()*math.Pow(10, rng.Float64()*8-4)))
	}
	for _, tc := range []Tensor{
		F32("x", []int{len(vals)}, vals),
		F16FromF32("x", []int{len(vals)}, vals),
		BF16FromF32("x", []int{len(vals)}, vals),
		{Name: "x", DType: DTypeF64, Shape: []int{len(vals)}, Data: f64Bytes(vals)},
		I64("x", []int{3}, []int64{-7, 1 << 40, 123456789}),
		{Name: "x", DType: DTypeU8, Shape: []int{3}, Data: []byte{0, 7, 255}},
	} {
		want, err := DecodeFloat32(tc.DType, tc.Data)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]uint16, len(want))
		if err := DecodeBF16(tc.DType, tc.Data, got); err != nil {
			t.Fatalf("%s: %v", tc.DType, err)
		}
		for i, w := range want {
			if e := Float32ToBF16(w); got[i] != e {
				t.Fatalf("%s[%d]: %#04x, want %#04x (of %v)", tc.DType, i, got[i], e, w)
			}
		}
	}
	if err := DecodeBF16("F8", []byte{1}, make([]uint16, 1)); err == nil || !strings.Contains(err.Error(), "F8") {
		t.Errorf("unknown dtype: %v", err)
	}
	if err := DecodeBF16(DTypeF32, make([]byte, 8), make([]uint16, 3)); err == nil {
		t.Error("length mismatch: no error")
	}
}

func f64Bytes(v []float32) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
	}
	return b
}

// TestBF16Writer writes raw bfloat16 values and reads them back unchanged.
func TestBF16Writer(t *testing.T) {
	h := []uint16{0x3f80, 0xc020, 0x7fc0, 0x0001, 0x8000, 0x7f80}
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{BF16("w", []int{2, 3}, h)}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.BF16("w")
	if info, _ := f.Info("w"); err != nil || !slices.Equal(got, h) || info.DType != DTypeBF16 || !slices.Equal(info.Shape, []int{2, 3}) {
		t.Fatalf("read back %v %v (%v)", got, info, err)
	}
}

// TestDontNeed drops the pages of a mapped file's tensors and reads them
// again: the values are unchanged (the pages come back from the file), and
// an unknown name is an error naming it.
func TestDontNeed(t *testing.T) {
	vals := make([]float32, 3<<12) // several pages
	for i := range vals {
		vals[i] = float32(i)*0.5 - 7
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := WriteFile(path, []Tensor{F32("a", []int{len(vals)}, vals), F32("b", []int{3}, []float32{1, 2, 3})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, _ := f.Raw("a")
	before := slices.Clone(raw)
	for _, n := range []string{"a", "b"} {
		if err := f.DontNeed(n); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := f.Float32("a")
	if !slices.Equal(got, vals) || !bytes.Equal(raw, before) {
		t.Fatal("values changed after DontNeed")
	}
	if err := f.DontNeed("c"); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("unknown tensor: %v", err)
	}
}
