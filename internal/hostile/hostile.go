// Package hostile builds the hostile and careless inputs the loaders must
// survive: small files that, read naively, take the machine down (pickles
// whose dict keys expand exponentially or nest millions deep, storages that
// deflate 1000:1, configs whose sizes overflow, valid images too large to
// decode in bounded memory). Tests and fuzz targets seed from it, and
// scripts/hostile (go run ./scripts/hostile) writes every case to disk for
// scripts/hostile.sh, which runs the CLI on each and measures it.
//
// It depends on the standard library only, so that the packages it attacks
// can use it in their own tests.
package hostile

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sort"
	"strconv"
)

// Pickle builds a pickle opcode by opcode (protocol 2 opcodes).
type Pickle []byte

// Op appends raw opcodes.
func (p Pickle) Op(b ...byte) Pickle { return append(p, b...) }

// Str appends a BINUNICODE string.
func (p Pickle) Str(s string) Pickle {
	p = append(p, 'X')
	p = binary.LittleEndian.AppendUint32(p, uint32(len(s)))
	return append(p, s...)
}

// Int appends a BININT.
func (p Pickle) Int(v int32) Pickle {
	p = append(p, 'J')
	return binary.LittleEndian.AppendUint32(p, uint32(v))
}

// Long appends a LONG1 (8 bytes, two's complement).
func (p Pickle) Long(v int64) Pickle {
	p = append(p, 0x8a, 8)
	return binary.LittleEndian.AppendUint64(p, uint64(v))
}

// Global appends GLOBAL module.name.
func (p Pickle) Global(module, name string) Pickle {
	return append(p, "c"+module+"\n"+name+"\n"...)
}

// Put appends BINPUT or LONG_BINPUT i (memoize the top of the stack).
func (p Pickle) Put(i uint32) Pickle {
	if i < 256 {
		return append(p, 'q', byte(i))
	}
	return binary.LittleEndian.AppendUint32(append(p, 'r'), i)
}

// Get appends BINGET or LONG_BINGET i (push memo entry i).
func (p Pickle) Get(i uint32) Pickle {
	if i < 256 {
		return append(p, 'h', byte(i))
	}
	return binary.LittleEndian.AppendUint32(append(p, 'j'), i)
}

// Ints appends a tuple of BININTs.
func (p Pickle) Ints(vs ...int64) Pickle {
	p = p.Op('(')
	for _, v := range vs {
		p = p.Long(v)
	}
	return p.Op('t')
}

// Tensor appends torch._utils._rebuild_tensor_v2(('storage',
// torch.<storageType>, key, 'cpu', numel), offset, size, stride, False,
// OrderedDict()), as torch.save writes a tensor.
func (p Pickle) Tensor(storageType, key string, numel, offset int64, size, stride []int64) Pickle {
	p = p.Global("torch._utils", "_rebuild_tensor_v2").Op('(')
	p = p.Op('(').Str("storage").Global("torch", storageType).Str(key).Str("cpu").Long(numel).Op('t', 'Q')
	p = p.Long(offset).Ints(size...).Ints(stride...).Op(0x89)
	p = p.Global("collections", "OrderedDict").Op(')', 'R')
	return p.Op('t', 'R')
}

// Entry is one state-dict entry for StateDict.
type Entry struct {
	Name        string
	StorageType string // FloatStorage, ...
	Key         string // storage key (archive member data/<key>)
	Numel       int64  // storage elements
	Offset      int64
	Size        []int64
	Stride      []int64
}

// StateDict returns the pickle of a state dict (an OrderedDict) of entries.
func StateDict(entries ...Entry) []byte {
	p := Pickle{0x80, 2}.Global("collections", "OrderedDict").Op(')', 'R')
	for _, e := range entries {
		p = p.Str(e.Name).Tensor(e.StorageType, e.Key, e.Numel, e.Offset, e.Size, e.Stride).Op('s')
	}
	return p.Op('.')
}

// DoublingTupleKey returns a pickle of a dict whose one key is the tuple
// t(levels) with t(0) = 0 and t(i+1) = (t(i), t(i)), every t(i) a memo
// reference: levels*10+20 bytes that expand to 2^levels leaves when the key
// is hashed naively.
func DoublingTupleKey(levels int) []byte {
	p := Pickle{0x80, 2}.Op('}').Op('K', 0).Put(0).Op('0')
	for i := 1; i <= levels; i++ {
		p = p.Get(uint32(i - 1)).Get(uint32(i - 1)).Op(0x86).Put(uint32(i)).Op('0')
	}
	return p.Get(uint32(levels)).Op('K', 0, 's', '.')
}

// NestedTupleKey returns a pickle of a dict whose key is a tuple nested
// depth deep, (((0,),),...): one TUPLE1 opcode per level.
func NestedTupleKey(depth int) []byte {
	p := make(Pickle, 0, depth+16)
	p = p.Op(0x80, 2, '}', 'K', 0)
	for range depth {
		p = append(p, 0x85)
	}
	return p.Op('K', 0, 's', '.')
}

// SetCalls returns a pickle that builds a list of items small ints and then
// calls builtins.set on it calls times, appending every result to a second
// list: each call copies the whole list when sets are built naively.
func SetCalls(calls, items int) []byte {
	p := Pickle{0x80, 2}.Op(']') // the results
	p = p.Global("builtins", "set").Put(0).Op('0')
	p = p.Op(']').Op('(')
	for i := range items {
		p = p.Op('K', byte(i))
	}
	p = p.Op('e').Put(1).Op('0')
	for range calls {
		p = p.Get(0).Get(1).Op(0x85, 'R', 'a')
	}
	return p.Op('.')
}

// OrderedDictCalls returns a pickle that builds a list of pairs (k, k) and
// then calls collections.OrderedDict on it calls times.
func OrderedDictCalls(calls, pairs int) []byte {
	p := Pickle{0x80, 2}.Op(']')
	p = p.Global("collections", "OrderedDict").Put(0).Op('0')
	p = p.Op(']').Op('(')
	for i := range pairs {
		p = p.Int(int32(i)).Op('K', 1, 0x86)
	}
	p = p.Op('e').Put(1).Op('0')
	for range calls {
		p = p.Get(0).Get(1).Op(0x85, 'R', 'a')
	}
	return p.Op('.')
}

// BigStringKeys returns a pickle of a dict that sets the same string key of
// n bytes (a memo reference) times times: hashing the key each time costs
// n*times.
func BigStringKeys(n, times int) []byte {
	p := Pickle{0x80, 2}.Op('}').Str(string(bytes.Repeat([]byte{'k'}, n))).Put(0).Op('0')
	for range times {
		p = p.Get(0).Op('N', 's')
	}
	return p.Op('.')
}

// Member is one archive member for TorchZip.
type Member struct {
	Name string // under the archive prefix, e.g. "data.pkl", "data/0"
	Data []byte
	// Deflate stores the member compressed.
	Deflate bool
	// raw, when set, is a deflate stream of size bytes of zeros (see
	// DeflateBomb); Data is then ignored.
	raw       []byte
	size, crc uint64
}

// TorchZip returns a torch.save-style zip archive (prefix "archive/")
// holding pkl as data.pkl and the members.
func TorchZip(pkl []byte, members ...Member) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(m Member) {
		name := "archive/" + m.Name
		var w io.Writer
		var err error
		switch {
		case m.raw != nil:
			w, err = zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: uint32(m.crc),
				CompressedSize64: uint64(len(m.raw)), UncompressedSize64: m.size})
			if err == nil {
				_, err = w.Write(m.raw)
			}
		default:
			method := zip.Store
			if m.Deflate {
				method = zip.Deflate
			}
			w, err = zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
			if err == nil {
				_, err = w.Write(m.Data)
			}
		}
		if err != nil {
			panic("hostile: " + err.Error()) // writing to memory cannot fail
		}
	}
	add(Member{Name: "data.pkl", Data: pkl})
	add(Member{Name: "byteorder", Data: []byte("little")})
	for _, m := range members {
		add(m)
	}
	add(Member{Name: "version", Data: []byte("3\n")})
	if err := zw.Close(); err != nil {
		panic("hostile: " + err.Error())
	}
	return buf.Bytes()
}

// DeflateBomb returns a member holding size bytes of zeros (a multiple of
// 1 MiB) as a deflate stream about 1030 times smaller: one flushed block of
// 1 MiB of zeros repeated (each block refers only to zeros before it).
func DeflateBomb(name string, size int64) Member {
	const chunk = 1 << 20
	if size%chunk != 0 || size <= 0 {
		panic("hostile: DeflateBomb size must be a positive multiple of 1 MiB")
	}
	zero := make([]byte, chunk)
	var seg bytes.Buffer
	fw, _ := flate.NewWriter(&seg, flate.BestCompression)
	fw.Write(zero)
	fw.Flush()
	n := size / chunk
	raw := make([]byte, 0, int64(seg.Len())*n+8)
	for range n {
		raw = append(raw, seg.Bytes()...)
	}
	raw = append(raw, 0x03, 0x00) // a final, empty fixed-Huffman block
	crc := uint32(0)
	for range n {
		crc = crc32.Update(crc, crc32.IEEETable, zero)
	}
	return Member{Name: name, raw: raw, size: uint64(size), crc: uint64(crc)}
}

// DeflateBombCheckpoint returns a torch.save archive whose one float32
// tensor "w" covers a storage of size bytes of zeros, stored deflated (about
// size/1030 bytes of file).
func DeflateBombCheckpoint(size int64) []byte {
	n := size / 4
	pkl := StateDict(Entry{Name: "w", StorageType: "FloatStorage", Key: "0", Numel: n, Size: []int64{n}, Stride: []int64{1}})
	return TorchZip(pkl, DeflateBomb("data/0", size))
}

// DeflateBombView is DeflateBombCheckpoint with a one-element tensor over
// the large storage (torch.save writes a view's whole storage).
func DeflateBombView(size int64) []byte {
	pkl := StateDict(Entry{Name: "w", StorageType: "FloatStorage", Key: "0", Numel: size / 4, Size: []int64{1}, Stride: []int64{1}})
	return TorchZip(pkl, DeflateBomb("data/0", size))
}

// Wrap returns pkl in a torch.save archive with no storages.
func Wrap(pkl []byte) []byte { return TorchZip(pkl) }

// TinyConfig is the config of the golden tiny model (golden/testdata/tiny).
const TinyConfig = `{
  "embed_dim": 32,
  "vision_cfg": {"image_size": 32, "layers": 2, "width": 48, "patch_size": 8, "attentional_pool": true,
    "attn_pooler_queries": 9, "attn_pooler_heads": 4, "output_tokens": true, "head_width": 12},
  "text_cfg": {"context_length": 12, "vocab_size": 64, "width": 32, "heads": 4, "layers": 2,
    "embed_cls": true, "output_tokens": true},
  "multimodal_cfg": {"context_length": 12, "vocab_size": 64, "width": 32, "heads": 4, "layers": 2,
    "attn_pooler_heads": 4},
  "custom_text": true
}`

// ConfigEdit is one hostile config value: Section ("" for the top level,
// else vision_cfg, text_cfg or multimodal_cfg), Key and the JSON Value.
type ConfigEdit struct {
	Name           string // short case name
	Section, Key   string
	Value          string // JSON
	AlsoMultimodal bool   // set the same key in multimodal_cfg (sizes the two text halves share)
}

// ConfigEdits are the configs of issue 16: sizes that overflow or
// allocate without end when the model is built.
var ConfigEdits = []ConfigEdit{
	{Name: "image_size", Section: "vision_cfg", Key: "image_size", Value: "1.2e9"},
	{Name: "mlp_ratio", Section: "vision_cfg", Key: "mlp_ratio", Value: "1e30"},
	{Name: "vocab_size", Section: "text_cfg", Key: "vocab_size", Value: "2e9", AlsoMultimodal: true},
	{Name: "layers", Section: "vision_cfg", Key: "layers", Value: "1e5"},
}

// Config returns TinyConfig with e applied.
func Config(e ConfigEdit) []byte {
	var m map[string]any
	if err := json.Unmarshal([]byte(TinyConfig), &m); err != nil {
		panic("hostile: " + err.Error())
	}
	var v any
	if err := json.Unmarshal([]byte(e.Value), &v); err != nil {
		panic("hostile: " + err.Error())
	}
	set := func(section string) {
		if section == "" {
			m[e.Key] = json.RawMessage(e.Value)
			return
		}
		m[section].(map[string]any)[e.Key] = json.RawMessage(e.Value)
	}
	set(e.Section)
	if e.AlsoMultimodal {
		set("multimodal_cfg")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic("hostile: " + err.Error())
	}
	return b
}

// Safetensors returns a safetensors file holding one F32 tensor "x" of
// shape [1] and the metadata.
func Safetensors(meta map[string]string) []byte {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hdr := map[string]any{"__metadata__": meta, "x": map[string]any{"dtype": "F32", "shape": []int{1}, "data_offsets": []int{0, 4}}}
	h, err := json.Marshal(hdr)
	if err != nil {
		panic("hostile: " + err.Error())
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return binary.LittleEndian.AppendUint32(out, math.Float32bits(1))
}

// PNGHeader returns the signature and IHDR chunk of a w×h PNG (8-bit RGB,
// 8-bit RGBA or, with depth 16, 16-bit RGBA): all a decoder reads to learn
// how much memory the image needs.
func PNGHeader(w, h int, alpha bool, depth int) []byte {
	ctype := byte(2)
	if alpha {
		ctype = 6
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, byte(depth), ctype, 0, 0, 0)
	return pngChunk([]byte("\x89PNG\r\n\x1a\n"), "IHDR", ihdr)
}

func pngChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

// PNG returns a valid w×h PNG (see PNGHeader) of a smooth gradient with a
// little texture: a few hundred KB to a few MB that decode to w*h*4 (or 8)
// bytes. It streams the rows through zlib, so large images take seconds,
// not memory.
func PNG(w, h int, alpha bool, depth int) []byte {
	ch := 3
	if alpha {
		ch = 4
	}
	bps := depth / 8
	out := PNGHeader(w, h, alpha, depth)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.DefaultCompression)
	row := make([]byte, 1+w*ch*bps)
	for y := range h {
		row[0] = 0 // filter none
		v := byte(y * 255 / max(h-1, 1))
		for x := range w {
			for c := range ch {
				s := v
				switch c {
				case 0:
					s = byte(x / 1024 * 16)
				case 3:
					s = 200 + byte((x/256+y/256)%2)*55 // translucent checks
				}
				if y%256 == 0 && x%97 == 0 {
					s ^= byte(x + y) // sparse texture, so the file is not trivially small
				}
				for b := range bps {
					row[1+(x*ch+c)*bps+b] = s
				}
			}
		}
		zw.Write(row)
	}
	zw.Close()
	for b := idat.Bytes(); len(b) > 0; {
		n := min(len(b), 1<<20)
		out = pngChunk(out, "IDAT", b[:n])
		b = b[n:]
	}
	return pngChunk(out, "IEND", nil)
}

// TSVWithBOM returns a headerless captions TSV starting with a UTF-8 BOM.
func TSVWithBOM(lines ...string) []byte {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	for _, l := range lines {
		fmt.Fprintln(&b, l)
	}
	return b.Bytes()
}

// COCOTypeErrors returns a COCO captions file whose items hold values of
// the wrong type (a number file_name, a list caption, a fractional and a
// string image_id).
func COCOTypeErrors() []byte {
	return []byte(`{"images": [{"id": 7, "file_name": 5}, {"id": 42, "file_name": "a.png"}],
 "annotations": [{"image_id": 42, "caption": ["a"]}, {"image_id": 4.5, "caption": "b"}, {"image_id": "42", "caption": "c"},
  {"image_id": 42, "caption": "a picture"}]}`)
}

// Shard returns a webdataset tar shard of the members (name, body).
func Shard(members ...[2]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}); err != nil {
			panic("hostile: " + err.Error())
		}
		tw.Write([]byte(m[1]))
	}
	tw.Close()
	return buf.Bytes()
}

// Corpus returns the hostile inputs at sizes a fuzzer mutates quickly (each
// still past a limit, or past what a naive reader survives), as Go fuzz
// corpus files: the key is the file's path from the repository root
// (<package>/testdata/fuzz/<target>/hostile-<case>), the value its
// contents. go run ./scripts/hostile -corpus . writes them; go test runs
// them as regression tests.
func Corpus() map[string][]byte {
	out := map[string][]byte{}
	add := func(pkg, target, name string, b []byte) {
		out[pkg+"/testdata/fuzz/"+target+"/hostile-"+name] = []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
	}
	pickles := []struct {
		name string
		b    []byte
	}{
		{"doubling-key", DoublingTupleKey(100)},
		{"nested-key", NestedTupleKey(1000)},
		{"set-calls", SetCalls(100, 1000)},
		{"ordereddict-calls", OrderedDictCalls(10, 1000)},
		{"big-string-keys", BigStringKeys(1000, 100)},
	}
	for _, p := range pickles {
		add("tensor/torchfile", "FuzzPickle", p.name, p.b)
		add("tensor/torchfile", "FuzzRead", p.name, Wrap(p.b))
	}
	add("tensor/torchfile", "FuzzRead", "deflate-bomb", DeflateBombCheckpoint(16<<20))
	add("tensor/torchfile", "FuzzRead", "deflate-view", DeflateBombView(16<<20))
	for _, e := range ConfigEdits {
		add("coca", "FuzzConfig", e.Name, Config(e))
		add("tensor/safetensors", "FuzzParse", "config-"+e.Name, Safetensors(map[string]string{"format": "pt", "coca_config": string(Config(e))}))
	}
	add("data", "FuzzDecodeImage", "png-9400-header", PNGHeader(9400, 9400, true, 8))
	add("data", "FuzzDecodeImage", "png-rgba16", PNG(64, 48, true, 16))
	add("data", "FuzzTSV", "bom", TSVWithBOM("a.png\tpicture number 0", "/abs/b.png\tabsolute"))
	add("data", "FuzzCOCO", "type-errors", COCOTypeErrors())
	add("data", "FuzzWebDataset", "png-9400", Shard(
		[2]string{"x.png", string(PNGHeader(9400, 9400, false, 8))},
		[2]string{"x.txt", "a header that claims 88 megapixels"},
		[2]string{"y.json", `{"caption": 5}`},
		[2]string{"y.jpg", "not a jpeg"}))
	return out
}
