// Package safetensors reads and writes the safetensors tensor file format:
// model checkpoints, golden fixtures and preprocessed images all go through it.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON mapping
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (plus an
// optional "__metadata__" string map), then the data buffer those offsets index,
// little-endian and row-major.
//
// Open maps the file read-only (on Linux and macOS; other systems read it into
// memory) and checks the whole header before returning: every malformed file is
// an error naming the file and the tensor or field at fault, never a panic.
// Accessors convert to new Go slices; Raw returns a view into the mapping that
// is valid until Close.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted (the reference
// implementation's limit): a longer one marks a corrupt or hostile file.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the free-form string map.
const metadataKey = "__metadata__"

func errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: "+format, args...)
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are the tensor's byte offsets in the data buffer (after
	// the header); End-Begin == NumBytes.
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (i Info) NumElements() int {
	n := 1
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// NumBytes returns the tensor's size in bytes.
func (i Info) NumBytes() int64 { return i.End - i.Begin }

// File is a parsed safetensors file. Its methods are safe for concurrent use
// until Close.
type File struct {
	name    string // the path or name given to Open/Parse, for messages
	data    []byte // data buffer (after the header)
	infos   map[string]*Info
	names   []string
	meta    map[string]string
	release func() error // unmaps or drops the backing memory
	closed  bool
	// dontNeed, for a mapped file, drops the mapping's pages of the data
	// buffer's byte range [begin, end) from the process (see DontNeed).
	dontNeed func(begin, end int64) error
}

// Parse reads safetensors data held in memory. name is used in error messages.
// The returned File keeps data (Raw returns views into it).
func Parse(data []byte, name string) (*File, error) {
	f, err := parse(data, name)
	if err != nil {
		return nil, err
	}
	f.release = func() error { return nil }
	return f, nil
}

func parse(data []byte, name string) (*File, error) {
	if len(data) < 8 {
		return nil, errorf("%s: file is %d bytes, too short for the 8-byte header length", name, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, errorf("%s: header length %d exceeds the %d-byte limit (corrupt file?)", name, n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, errorf("%s: header length %d past end of file (%d bytes)", name, n, len(data))
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	if !utf8.Valid(header) {
		return nil, errorf("%s: header is not valid UTF-8", name)
	}
	f := &File{name: name, data: buf, infos: make(map[string]*Info)}
	if err := f.parseHeader(header); err != nil {
		return nil, err
	}
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// rawTensor is one header entry before validation.
type rawTensor struct {
	DType       *string       `json:"dtype"`
	Shape       []json.Number `json:"shape"`
	DataOffsets []json.Number `json:"data_offsets"`
}

func (f *File) parseHeader(header []byte) error {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return errorf("%s: header: invalid JSON: %v", f.name, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errorf("%s: header: JSON is not an object", f.name)
	}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errorf("%s: header: invalid JSON: %v", f.name, err)
		}
		key, ok := tok.(string)
		if !ok {
			return errorf("%s: header: invalid JSON key %v", f.name, tok)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return errorf("%s: header: %q: invalid JSON: %v", f.name, key, err)
		}
		if key == metadataKey {
			if seenMeta {
				return errorf("%s: header: duplicate %q", f.name, metadataKey)
			}
			seenMeta = true
			if string(bytes.TrimSpace(val)) == "null" {
				continue
			}
			var m map[string]string
			if err := json.Unmarshal(val, &m); err != nil || m == nil {
				return errorf("%s: header: %q is not a map of strings to strings", f.name, metadataKey)
			}
			f.meta = m
			continue
		}
		if _, dup := f.infos[key]; dup {
			return errorf("%s: header: duplicate tensor name %q", f.name, key)
		}
		info, err := f.parseTensor(key, val)
		if err != nil {
			return err
		}
		f.infos[key] = info
		f.names = append(f.names, key)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return errorf("%s: header: invalid JSON: %v", f.name, err)
	}
	// Only padding may follow the object.
	rest := header[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return errorf("%s: header: unexpected data after the JSON object", f.name)
	}
	sort.Strings(f.names)
	return nil
}

func (f *File) parseTensor(name string, val json.RawMessage) (*Info, error) {
	tensorErr := func(format string, args ...any) error {
		return errorf("%s: tensor %q: %s", f.name, name, fmt.Sprintf(format, args...))
	}
	var rt rawTensor
	if err := json.Unmarshal(val, &rt); err != nil {
		return nil, tensorErr("invalid entry: %v", err)
	}
	if rt.DType == nil {
		return nil, tensorErr("missing dtype")
	}
	dt := DType(*rt.DType)
	if !dt.Valid() {
		return nil, tensorErr("unknown dtype %q", *rt.DType)
	}
	if rt.Shape == nil {
		return nil, tensorErr("missing shape")
	}
	shape := make([]int, len(rt.Shape))
	numel := uint64(1)
	overflow := false
	for i, s := range rt.Shape {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return nil, tensorErr("shape[%d] = %s is not an integer dimension", i, s)
		}
		if v < 0 {
			return nil, tensorErr("shape[%d] = %d is negative", i, v)
		}
		if uint64(v) > math.MaxInt {
			return nil, tensorErr("shape[%d] = %d is too large", i, v)
		}
		shape[i] = int(v)
		if hi, lo := mul64(numel, uint64(v)); hi != 0 {
			overflow = true
		} else {
			numel = lo
		}
	}
	if len(rt.DataOffsets) != 2 {
		return nil, tensorErr("data_offsets has %d values, want [begin, end]", len(rt.DataOffsets))
	}
	var off [2]uint64
	for i, s := range rt.DataOffsets {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return nil, tensorErr("data_offsets[%d] = %s is not a non-negative integer", i, s)
		}
		off[i] = v
	}
	if off[0] > off[1] {
		return nil, tensorErr("data_offsets [%d %d]: begin > end", off[0], off[1])
	}
	if off[1] > uint64(len(f.data)) {
		return nil, tensorErr("data_offsets [%d %d] past end of data (%d bytes)", off[0], off[1], len(f.data))
	}
	hi, want := mul64(numel, uint64(dt.Size()))
	if overflow || hi != 0 || want != off[1]-off[0] {
		return nil, tensorErr("shape %v of %s needs %s bytes but data_offsets [%d %d] hold %d",
			shape, dt, bytesNeeded(overflow || hi != 0, want), off[0], off[1], off[1]-off[0])
	}
	return &Info{Name: name, DType: dt, Shape: shape, Begin: int64(off[0]), End: int64(off[1])}, nil
}

func bytesNeeded(overflow bool, n uint64) string {
	if overflow {
		return "more than 2^64"
	}
	return strconv.FormatUint(n, 10)
}

func mul64(a, b uint64) (hi, lo uint64) {
	if a == 0 || b == 0 {
		return 0, 0
	}
	lo = a * b
	if lo/b != a {
		return 1, lo
	}
	return 0, lo
}

// checkLayout rejects tensors whose byte ranges overlap.
func (f *File) checkLayout() error {
	order := slices.Clone(f.names)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := f.infos[order[i]], f.infos[order[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var prev *Info
	for _, n := range order {
		in := f.infos[n]
		if in.Begin == in.End {
			continue // an empty tensor occupies no bytes
		}
		if prev != nil && in.Begin < prev.End {
			return errorf("%s: tensor %q: data_offsets [%d %d] overlap tensor %q [%d %d]",
				f.name, n, in.Begin, in.End, prev.Name, prev.Begin, prev.End)
		}
		prev = in
	}
	return nil
}

// Name returns the path or name the file was opened with.
func (f *File) Name() string { return f.name }

// Names returns the tensor names in sorted order. The slice is shared: do not
// modify it.
func (f *File) Names() []string { return f.names }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	if !ok {
		return Info{}, false
	}
	c := *in
	c.Shape = slices.Clone(in.Shape)
	return c, true
}

// Metadata returns the header's "__metadata__" map (nil if absent). The map is
// shared: do not modify it.
func (f *File) Metadata() map[string]string { return f.meta }

// ErrClosed is returned by accessors called after Close.
var ErrClosed = errors.New("safetensors: file already closed")

func (f *File) lookup(name string) (*Info, error) {
	if f.closed {
		return nil, fmt.Errorf("%w: %s", ErrClosed, f.name)
	}
	in, ok := f.infos[name]
	if !ok {
		return nil, errorf("%s: no tensor %q", f.name, name)
	}
	return in, nil
}

// Raw returns the named tensor's bytes as stored (little-endian). On a file
// from Open the slice is a read-only view of the mapping: it must not be
// written and is invalid after Close.
func (f *File) Raw(name string) ([]byte, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.data[in.Begin:in.End:in.End], nil
}

// Float32 returns the named tensor converted to a new []float32. Float types
// are rounded to nearest, integer and bool types converted by value.
func (f *File) Float32(name string) ([]float32, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, in.NumElements())
	decodeFloat32(in.DType, f.data[in.Begin:in.End], out)
	return out, nil
}

// Int64 returns the named integer or bool tensor as a new []int64.
func (f *File) Int64(name string) ([]int64, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	out, err := DecodeInt64(in.DType, f.data[in.Begin:in.End])
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.name, name, err)
	}
	return out, nil
}

// BF16 returns the raw bfloat16 values of a BF16 tensor, without widening.
func (f *File) BF16(name string) ([]uint16, error) { return f.halves(name, DTypeBF16) }

// F16 returns the raw binary16 values of an F16 tensor, without widening.
func (f *File) F16(name string) ([]uint16, error) { return f.halves(name, DTypeF16) }

func (f *File) halves(name string, want DType) ([]uint16, error) {
	in, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if in.DType != want {
		return nil, errorf("%s: tensor %q: dtype is %s, not %s", f.name, name, in.DType, want)
	}
	return DecodeUint16(f.data[in.Begin:in.End]), nil
}

// DontNeed tells the system that the process will not read the named
// tensor's bytes again soon: the pages of a mapped file that lie wholly
// inside the tensor leave the process's resident memory (they stay in the
// page cache, and a later read maps them back, so Raw views stay valid). A
// loader that converts each tensor once calls it after each, so that its
// peak memory does not include the whole file. It does nothing for a file
// that is not mapped.
func (f *File) DontNeed(name string) error {
	in, err := f.lookup(name)
	if err != nil || f.dontNeed == nil {
		return err
	}
	if err := f.dontNeed(in.Begin, in.End); err != nil {
		return errorf("%s: tensor %q: %v", f.name, name, err)
	}
	return nil
}

// Close releases the file's memory. Slices returned by Raw become invalid.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	rel := f.release
	f.release = nil
	f.data = nil
	if rel != nil {
		if err := rel(); err != nil {
			return errorf("%s: close: %v", f.name, err)
		}
	}
	return nil
}
