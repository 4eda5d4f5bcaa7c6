package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gococa/gococa/tensor/safetensors"
)

// The fixtures in testdata were written by testdata/make_fixtures.py with
// Debian's python3-torch 1.13 (rerun it there to regenerate them) from the
// open_clip tiny CoCa weights in ../safetensors/testdata.
const reference = "../safetensors/testdata/tiny_weights.safetensors"

func openRef(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(reference)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// refOrder lists the reference tensors in data order, the order
// make_fixtures.py inserted them into the state dict.
func refOrder(ref *safetensors.File) []string {
	names := slices.Clone(ref.Names())
	slices.SortFunc(names, func(a, b string) int {
		ia, _ := ref.Info(a)
		ib, _ := ref.Info(b)
		return int(ia.Begin - ib.Begin)
	})
	return names
}

func checkF32(t *testing.T, path string) {
	ref := openRef(t)
	ts, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tt := range ts {
		names = append(names, tt.Name)
	}
	if want := refOrder(ref); !slices.Equal(names, want) {
		t.Fatalf("%s: %d names %q..., want %d %q...", path, len(names), names[:3], len(want), want[:3])
	}
	for i := range ts {
		tt := &ts[i]
		in, _ := ref.Info(tt.Name)
		raw, _ := ref.Raw(tt.Name)
		if tt.DType != safetensors.DTypeF32 || !slices.Equal(tt.Shape, in.Shape) {
			t.Errorf("%s: %s %v, want F32 %v", tt.Name, tt.DType, tt.Shape, in.Shape)
		}
		if !bytes.Equal(tt.Raw(), raw) {
			t.Errorf("%s: data differs from the reference", tt.Name)
		}
		want, _ := ref.Float32(tt.Name)
		if !slices.Equal(tt.Float32(), want) {
			t.Errorf("%s: Float32() differs from the reference", tt.Name)
		}
	}
}

func TestTinyF32(t *testing.T) { checkF32(t, "testdata/tiny_f32.bin") }

// An open_clip training checkpoint: the state dict under "state_dict" with
// "module." names, next to the epoch and AdamW optimizer state.
func TestTrainingCheckpoint(t *testing.T) { checkF32(t, "testdata/tiny_ckpt.pt") }

func TestTinyF16(t *testing.T) {
	ref := openRef(t)
	m, err := LoadMap("testdata/tiny_f16.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != ref.Len() {
		t.Fatalf("%d tensors, want %d", len(m), ref.Len())
	}
	for _, name := range ref.Names() {
		tt := m[name]
		if tt == nil {
			t.Fatalf("missing %s", name)
		}
		in, _ := ref.Info(name)
		if tt.DType != safetensors.DTypeF16 || !slices.Equal(tt.Shape, in.Shape) {
			t.Errorf("%s: %s %v, want F16 %v", name, tt.DType, tt.Shape, in.Shape)
		}
		want, _ := ref.Float32(name)
		halves, err := tt.F16()
		if err != nil {
			t.Fatal(err)
		}
		got := tt.Float32()
		for i, w := range want {
			h := safetensors.Float32ToF16(w)
			if halves[i] != h || got[i] != safetensors.F16ToFloat32(h) {
				t.Fatalf("%s[%d]: got %#04x (%v), want %#04x: torch's .half() of %v", name, i, halves[i], got[i], h, w)
			}
		}
		if _, err := tt.BF16(); err == nil {
			t.Errorf("%s: BF16() of an F16 tensor: no error", name)
		}
	}
}

// TestTinyBF16 checks .bfloat16() of the reference weights: every value is
// the reference rounded to nearest even, and DecodeBF16 of the raw bytes
// gives those bits.
func TestTinyBF16(t *testing.T) {
	ref := openRef(t)
	m, err := LoadMap("testdata/tiny_bf16.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != ref.Len() {
		t.Fatalf("%d tensors, want %d", len(m), ref.Len())
	}
	for _, name := range ref.Names() {
		tt := m[name]
		if tt == nil {
			t.Fatalf("missing %s", name)
		}
		in, _ := ref.Info(name)
		if tt.DType != safetensors.DTypeBF16 || !slices.Equal(tt.Shape, in.Shape) {
			t.Errorf("%s: %s %v, want BF16 %v", name, tt.DType, tt.Shape, in.Shape)
		}
		want, _ := ref.Float32(name)
		halves, err := tt.BF16()
		if err != nil {
			t.Fatal(err)
		}
		dec := make([]uint16, len(halves))
		if err := safetensors.DecodeBF16(tt.DType, tt.Raw(), dec); err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if h := safetensors.Float32ToBF16(w); halves[i] != h || dec[i] != h {
				t.Fatalf("%s[%d]: got %#04x (decoded %#04x), want %#04x: torch's .bfloat16() of %v", name, i, halves[i], dec[i], h, w)
			}
		}
	}
}

// TestCheckpointReadsOnDemand checks the lazy Checkpoint against Load on
// every fixture: the same names, shapes, dtypes, bytes and values, read one
// tensor at a time, and errors after Close.
func TestCheckpointReadsOnDemand(t *testing.T) {
	for _, file := range []string{"tiny_f32.bin", "tiny_f16.bin", "tiny_bf16.bin", "tiny_ckpt.pt", "views.bin", "views_p1.bin"} {
		path := "testdata/" + file
		eager, err := LoadMap(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Names()) != len(eager) {
			t.Fatalf("%s: %d names, want %d", file, len(c.Names()), len(eager))
		}
		for _, n := range c.Names() {
			want := eager[n]
			shape, ok := c.Shape(n)
			dt, ok2 := c.DType(n)
			if want == nil || !ok || !ok2 || !slices.Equal(shape, want.Shape) || dt != want.DType {
				t.Fatalf("%s: %s: shape %v %s, want %v %s", file, n, shape, dt, want.Shape, want.DType)
			}
			gdt, raw, err := c.Raw(n)
			if err != nil || gdt != want.DType || !bytes.Equal(raw, want.Raw()) {
				t.Fatalf("%s: %s: Raw differs (%v)", file, n, err)
			}
			if !want.DType.IsFloat() {
				continue
			}
			v, err := c.Float32(n)
			if err != nil || !slices.Equal(v, want.Float32()) {
				t.Fatalf("%s: %s: Float32 differs (%v)", file, n, err)
			}
		}
		// Tensor copies out of the reused buffer: later reads leave it be.
		first := c.Names()[0]
		t0, err := c.Tensor(first)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Names() {
			c.Raw(n)
		}
		if !bytes.Equal(t0.Raw(), eager[first].Raw()) {
			t.Fatalf("%s: %s: Tensor's data changed by later reads", file, first)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Float32(c.Names()[0]); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s: read after Close: %v", file, err)
		}
	}
}

// TestCheckpointOpenChecksStorages: a storage member that is missing or of
// the wrong size is an error at Open, naming the file, the tensor and the
// member, before any tensor is read.
func TestCheckpointOpenChecksStorages(t *testing.T) {
	dir := t.TempDir()
	pkl := stateDictPickle(func(p pk) pk { return p.str("w").tensor("0", 2, 0, []int32{2}, []int32{1}) })
	for name, members := range map[string]map[string][]byte{
		"missing.bin": {"a/data.pkl": pkl},
		"short.bin":   {"a/data.pkl": pkl, "a/data/0": f32bytes(1)},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, zipFile(t, members), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), `"w"`) || !strings.Contains(err.Error(), "a/data/0") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// views.bin holds tensors saved as views (transposed, sliced, permuted,
// expanded, sharing a storage, 0-d, empty) and other dtypes; torch's own
// .contiguous() copies are in views_expected.safetensors.
func TestViews(t *testing.T) {
	exp, err := safetensors.Open("testdata/views_expected.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	for _, file := range []string{"views.bin", "views_p1.bin", "views_p4.bin"} {
		ts, err := Load(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != exp.Len() {
			t.Errorf("%s: %d tensors, want %d", file, len(ts), exp.Len())
		}
		for i := range ts {
			tt := &ts[i]
			in, ok := exp.Info(tt.Name)
			if !ok {
				t.Errorf("%s: unexpected tensor %q", file, tt.Name)
				continue
			}
			raw, _ := exp.Raw(tt.Name)
			if tt.DType != in.DType || !slices.Equal(tt.Shape, in.Shape) || !bytes.Equal(tt.Raw(), raw) {
				t.Errorf("%s: %s: got %s %v % x, want %s %v % x", file, tt.Name, tt.DType, tt.Shape, tt.Raw(), in.DType, in.Shape, raw)
			}
		}
	}
	m, err := LoadMap("testdata/views.bin")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := m["i64"].Int64(); err != nil || len(v) != 10 || v[0] != -5 {
		t.Errorf("i64: %v %v", v, err)
	}
	if _, err := m["f16"].F16(); err != nil {
		t.Error(err)
	}
	if h, err := m["bf16"].BF16(); err != nil || len(h) != 15 {
		t.Errorf("bf16: %v %v", h, err)
	}
	// Float32ToF16 and Float32ToBF16 round as torch's .half() and .bfloat16().
	src := m["round_src"].Float32()
	f16, err := m["round_f16"].F16()
	if err != nil {
		t.Fatal(err)
	}
	bf16, err := m["round_bf16"].BF16()
	if err != nil {
		t.Fatal(err)
	}
	if len(src) < 200 || len(f16) != len(src) || len(bf16) != len(src) {
		t.Fatalf("round_*: %d, %d, %d values", len(src), len(f16), len(bf16))
	}
	for i, v := range src {
		if h := safetensors.Float32ToF16(v); h != f16[i] {
			t.Errorf("Float32ToF16(%g) = %#04x, torch %#04x", v, h, f16[i])
		}
		if h := safetensors.Float32ToBF16(v); h != bf16[i] {
			t.Errorf("Float32ToBF16(%g) = %#04x, torch %#04x", v, h, bf16[i])
		}
	}
	// transposed is base.t() with base = arange(60).reshape(6, 10)*0.5 - 7.
	tr := m["transposed"].Float32()
	if !slices.Equal(m["transposed"].Shape, []int{10, 6}) || tr[1] != 10*0.5-7 || tr[6] != 1*0.5-7 {
		t.Errorf("transposed: %v %v", m["transposed"].Shape, tr[:7])
	}
}

func TestToSafetensors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny.safetensors")
	if err := ToSafetensors("testdata/tiny_f16.bin", out); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, err := Load("testdata/tiny_f16.bin")
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(ts) || f.Metadata()["converted_from"] != "tiny_f16.bin" {
		t.Fatalf("%d tensors, metadata %v", f.Len(), f.Metadata())
	}
	for i := range ts {
		in, _ := f.Info(ts[i].Name)
		raw, _ := f.Raw(ts[i].Name)
		if in.DType != safetensors.DTypeF16 || !slices.Equal(in.Shape, ts[i].Shape) || !bytes.Equal(raw, ts[i].Raw()) {
			t.Errorf("%s differs after conversion", ts[i].Name)
		}
	}
	if err := ToSafetensors("testdata/missing.bin", out); err == nil {
		t.Error("missing input: no error")
	}
}

// pk builds pickles by hand for the malformed-input tests.
type pk []byte

func (p pk) op(b ...byte) pk { return append(p, b...) }
func (p pk) str(s string) pk {
	p = append(p, 'X')
	p = binary.LittleEndian.AppendUint32(p, uint32(len(s)))
	return append(p, s...)
}
func (p pk) int(v int32) pk {
	p = append(p, 'J')
	return binary.LittleEndian.AppendUint32(p, uint32(v))
}
func (p pk) global(mod, name string) pk { return append(p, "c"+mod+"\n"+name+"\n"...) }
func (p pk) ints(vs ...int32) pk {
	p = p.op('(')
	for _, v := range vs {
		p = p.int(v)
	}
	return p.op('t')
}

// tensor appends _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu',
// numel), offset, size, stride, False, OrderedDict()).
func (p pk) tensor(key string, numel, offset int32, size, stride []int32) pk {
	p = p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p = p.op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op('t', 'Q')
	p = p.int(offset).ints(size...).ints(stride...).op(0x89)
	p = p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

func stateDictPickle(entries func(pk) pk) []byte {
	p := pk{0x80, 2}.global("collections", "OrderedDict").op(')', 'R', '(')
	p = entries(p)
	return p.op('u', '.')
}

func zipFile(t testing.TB, members map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[n])
	}
	zw.Close()
	return buf.Bytes()
}

func f32bytes(vs ...float32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestHandmade(t *testing.T) {
	good := stateDictPickle(func(p pk) pk {
		p = p.str("w").tensor("0", 6, 0, []int32{2, 3}, []int32{3, 1})
		return p.str("wt").tensor("0", 6, 1, []int32{2, 2}, []int32{1, 3})
	})
	ts, err := Read(bytes.NewReader(zipFile(t, map[string][]byte{
		"a/data.pkl": good, "a/data/0": f32bytes(0, 1, 2, 3, 4, 5), "a/version": []byte("3\n"),
	})), 0, "x")
	if err == nil {
		t.Fatal("size 0 accepted")
	}
	z := zipFile(t, map[string][]byte{"a/data.pkl": good, "a/data/0": f32bytes(0, 1, 2, 3, 4, 5)})
	ts, err = Read(bytes.NewReader(z), int64(len(z)), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || !slices.Equal(ts[0].Float32(), []float32{0, 1, 2, 3, 4, 5}) ||
		!slices.Equal(ts[1].Float32(), []float32{1, 4, 2, 5}) {
		t.Errorf("got %v %v", ts[0].Float32(), ts[1].Float32())
	}
	// A big-endian archive.
	be := make([]byte, 24)
	for i := range 6 {
		binary.BigEndian.PutUint32(be[4*i:], math.Float32bits(float32(i)))
	}
	z = zipFile(t, map[string][]byte{"a/data.pkl": good, "a/data/0": be, "a/byteorder": []byte("big")})
	ts, err = Read(bytes.NewReader(z), int64(len(z)), "x")
	if err != nil || !slices.Equal(ts[1].Float32(), []float32{1, 4, 2, 5}) {
		t.Errorf("big-endian: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	data := f32bytes(0, 1, 2, 3, 4, 5)
	one := func(offset int32, size, stride []int32) []byte {
		return stateDictPickle(func(p pk) pk { return p.str("w").tensor("0", 6, offset, size, stride) })
	}
	cases := []struct {
		name    string
		members map[string][]byte
		raw     []byte
		want    string
	}{
		{"not zip", nil, []byte("hello world"), "not a torch.save zip archive"},
		{"legacy", nil, []byte{0x80, 2, 0x8a, 0x0a}, "legacy"},
		{"no data.pkl", map[string][]byte{"a/version": []byte("3")}, nil, "no <prefix>/data.pkl"},
		{"torchscript", map[string][]byte{"a/constants.pkl": {0x80, 2, ')', '.'}}, nil, "TorchScript"},
		{"unknown global", map[string][]byte{"a/data.pkl": pk{0x80, 2}.global("os", "system").op('.')}, nil,
			"a/data.pkl: pickle offset 2: GLOBAL: global os.system is not allowed"},
		{"unknown stack global", map[string][]byte{"a/data.pkl": pk{0x80, 4}.str("builtins").str("eval").op(0x93, '.')}, nil,
			"global builtins.eval is not allowed"},
		{"truncated pickle", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{3, 1})[:40], "a/data/0": data}, nil, "a/data.pkl: pickle offset"},
		{"missing storage", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{3, 1})}, nil, `tensor "w": member a/data/0 missing`},
		{"short storage", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{3, 1}), "a/data/0": data[:20]}, nil, "a/data/0 is 20 bytes, storage FloatStorage[6] needs 24"},
		{"offset past storage", map[string][]byte{"a/data.pkl": one(4, []int32{2, 3}, []int32{3, 1}), "a/data/0": data}, nil, `tensor "w": storage_offset 4, size [2 3], stride [3 1] reach element 9 of a 6-element storage`},
		{"stride past storage", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{4, 1}), "a/data/0": data}, nil, "reach element 6"},
		{"negative size", map[string][]byte{"a/data.pkl": one(0, []int32{-2, 3}, []int32{3, 1}), "a/data/0": data}, nil, "dimension 0 out of range"},
		{"negative stride", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{3, -1}), "a/data/0": data}, nil, "stride [3 -1]"},
		{"negative offset", map[string][]byte{"a/data.pkl": one(-1, []int32{2}, []int32{1}), "a/data/0": data}, nil, "negative storage_offset"},
		{"rank mismatch", map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{1}), "a/data/0": data}, nil, "differ in length"},
		{"huge expand", map[string][]byte{"a/data.pkl": one(0, []int32{1 << 30, 1 << 20}, []int32{0, 0}), "a/data/0": data}, nil, "expands storage"},
		{"not a tensor", map[string][]byte{"a/data.pkl": stateDictPickle(func(p pk) pk { return p.str("epoch").int(3) })}, nil,
			`state dict entry "epoch" is a int, not a tensor`},
		{"not a dict", map[string][]byte{"a/data.pkl": pk{0x80, 2, ']', '.'}}, nil, "is a list, not a state dict"},
		{"bad opcode", map[string][]byte{"a/data.pkl": pk{0x80, 2, 0xff}}, nil, "opcode 0xff"},
		{"memo miss", map[string][]byte{"a/data.pkl": pk{0x80, 2, 'h', 7, '.'}}, nil, "BINGET: memo key 7 missing"},
		{"underflow", map[string][]byte{"a/data.pkl": pk{0x80, 2, 'R', '.'}}, nil, "REDUCE: stack underflow"},
		{"two data.pkl", map[string][]byte{"a/data.pkl": {'.'}, "b/data.pkl": {'.'}}, nil, "two data.pkl"},
		{"bad storage type", map[string][]byte{"a/data.pkl": pk{0x80, 2}.op('(').str("storage").global("torch", "Tensor").str("0").str("cpu").int(1).op('t', 'Q', '.')}, nil,
			"unsupported storage type torch.Tensor"},
	}
	for _, c := range cases {
		raw := c.raw
		if c.members != nil {
			raw = zipFile(t, c.members)
		}
		path := filepath.Join(t.TempDir(), "model.bin")
		os.WriteFile(path, raw, 0o644)
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "torchfile: "+path+": ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want it to name %s and contain %q", c.name, msg, path, c.want)
		}
	}
	// A corrupted storage byte fails the member's CRC-32.
	z := zipFile(t, map[string][]byte{"a/data.pkl": one(0, []int32{2, 3}, []int32{3, 1}), "a/data/0": data})
	at := bytes.Index(z, data)
	z[at+5] ^= 1
	if _, err := Read(bytes.NewReader(z), int64(len(z)), "crc.bin"); err == nil || !strings.Contains(err.Error(), "crc.bin: a/data/0") || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupted storage: %v", err)
	}
	// Size claims in zip headers are checked before allocating.
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "a/data.pkl", Method: method, CompressedSize64: 3, UncompressedSize64: 1 << 25})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{1, 2, 3})
		zw.Close()
		_, err = Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "lie.bin")
		if err == nil || !strings.Contains(err.Error(), "lie.bin: a/data.pkl: ") || !strings.Contains(err.Error(), "claims 33554432") {
			t.Errorf("method %d, size lie: %v", method, err)
		}
	}
	// Every prefix of a real checkpoint fails cleanly.
	real, err := os.ReadFile("testdata/views.bin")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(real); n += 97 {
		if _, err := Read(bytes.NewReader(real[:n]), int64(n), "cut"); err == nil {
			t.Errorf("checkpoint cut to %d bytes: no error", n)
		}
	}
}

func TestPickleValues(t *testing.T) {
	// Protocol-4 style opcodes and the value types optimizer state uses.
	p := pk{0x80, 4, 0x95, 9, 0, 0, 0, 0, 0, 0, 0}
	p = p.op('}', 0x94, '(')
	p = p.op(0x8c, 1, 'a', 0x8a, 2, 0x00, 0x80)               // 'a': LONG1 -32768
	p = p.op(0x8c, 1, 'b', 'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0) // 'b': 1.5
	p = p.op(0x8c, 1, 'c', ']', 0x94, '(', 'N', 0x88, 'e')    // 'c': [None, True] via APPENDS
	p = p.op(0x8c, 1, 'd', 'K', 1, 'M', 0x34, 0x12, 0x86)     // 'd': (1, 0x1234)
	p = p.op(0x8c, 1, 'e', 'h', 0, '2', '0')                  // 'e': the dict itself (memo 0), DUP, POP
	p = p.op('u', '.')
	v, err := unpickle(p)
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*pyDict)
	get := func(k string) any { x, _ := d.get(k); return x }
	if get("a") != int64(-32768) || get("b") != 1.5 {
		t.Errorf("a=%v b=%v", get("a"), get("b"))
	}
	if l := get("c").(*pyList); len(l.items) != 2 || l.items[0] != nil || l.items[1] != true {
		t.Errorf("c=%v", l.items)
	}
	if tp := get("d").(pyTuple); len(tp) != 2 || tp[1] != int64(0x1234) {
		t.Errorf("d=%v", tp)
	}
	if get("e") != d {
		t.Error("memo did not return the same dict")
	}
	for _, c := range []struct {
		b    []byte
		want int64
	}{{nil, 0}, {[]byte{0xff}, -1}, {[]byte{0xff, 0x00}, 255}, {[]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, math.MinInt64},
		{[]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1}} {
		if got, err := decodeLong(c.b); err != nil || got != c.want {
			t.Errorf("decodeLong(% x) = %d, %v; want %d", c.b, got, err, c.want)
		}
	}
	if _, err := decodeLong([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1}); err == nil {
		t.Error("decodeLong of 2^64: no error")
	}
}

func TestCheckpoint(t *testing.T) {
	ref := openRef(t)
	c, err := Open("testdata/tiny_ckpt.pt")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Names(), ref.Names()) {
		t.Fatalf("Names() differ from the reference's")
	}
	for _, n := range ref.Names() {
		in, _ := ref.Info(n)
		shape, ok := c.Shape(n)
		want, _ := ref.Float32(n)
		got, err := c.Float32(n)
		if !ok || err != nil || !slices.Equal(shape, in.Shape) || !slices.Equal(got, want) {
			t.Errorf("%s: shape %v %v, %v", n, shape, ok, err)
		}
	}
	if _, ok := c.Shape("module.logit_scale"); ok {
		t.Error("module. prefix not stripped")
	}
	if _, err := c.Float32("nope"); err == nil || !strings.Contains(err.Error(), `tiny_ckpt.pt: no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
	if _, err := Open("testdata/none.pt"); err == nil {
		t.Error("Open(missing): no error")
	}
}
