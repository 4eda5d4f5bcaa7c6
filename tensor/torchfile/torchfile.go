// Package torchfile reads PyTorch checkpoints written by torch.save (the zip
// format of PyTorch 1.6 and later: open_clip's .bin and .pt files) without
// Python.
//
// A checkpoint is a zip archive holding <prefix>/data.pkl, a pickle of the
// state dict whose tensors refer to storages stored raw as <prefix>/data/<key>.
// The pickle runs on a small virtual machine that only knows the globals
// tensor checkpoints use (collections.OrderedDict, torch._utils rebuild
// functions, torch.*Storage, ...): any other global is an error naming it, so
// loading a file never runs code. Malformed input of any kind is an error
// naming the file and the archive member, never a panic.
//
// Load accepts a bare state dict or a training checkpoint holding one under
// "state_dict", and strips the "module." prefix DistributedDataParallel adds.
// Tensors saved as strided views (transposed, sliced, expanded) are
// materialised contiguous in row-major order.
//
// # Resource limits
//
// Reading a file takes bounded time and memory beyond the tensors it holds,
// whatever the file. Each limit stops a read with an error naming the file
// and the limit:
//   - data.pkl may be at most MaxPickleSize bytes; running it may take at
//     most MaxPickleWork units of work (an opcode, a container element
//     created, copied or hashed, 16 bytes of a string hashed) and build at
//     most MaxPickleMemory bytes of objects. Dict keys are hashed once per
//     distinct tuple (a key built of shared memo references costs its
//     number of tuples, not its expanded size) and may nest tuples at most
//     100 deep; builtins.set shares its list's elements.
//   - Only the bytes a storage's tensors view are read (torch.save writes a
//     view's whole storage). The bytes the tensors need from compressed
//     storages may be at most MaxInflateRatio times the file's size plus 64
//     MiB: torch.save stores storages uncompressed, and a larger expansion
//     is a zip bomb. A storage read whole has its CRC-32 verified.
//   - A tensor may have at most 64 dimensions, and a stride-0 (expanded)
//     view may not materialise more than 256 MiB beyond its storage.
package torchfile

import (
	"archive/zip"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/gococa/gococa/tensor/safetensors"
)

// Tensor is one entry of a state dict, its data contiguous and little-endian.
type Tensor struct {
	Name  string
	DType safetensors.DType
	Shape []int
	data  []byte
}

// NumElements returns the product of the shape.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Raw returns the tensor's bytes (row-major, little-endian). The slice may be
// shared with other tensors viewing the same storage: do not modify it.
func (t *Tensor) Raw() []byte { return t.data }

// Float32 returns the values converted to a new []float32 (float16 and
// bfloat16 widened exactly, float64 and integers rounded to nearest).
func (t *Tensor) Float32() []float32 {
	v, err := safetensors.DecodeFloat32(t.DType, t.data)
	if err != nil {
		// Unreachable: Load only builds tensors of known types whose data
		// length matches their shape.
		panic("torchfile: " + err.Error())
	}
	return v
}

// Int64 returns the values of an integer or bool tensor as a new []int64.
func (t *Tensor) Int64() ([]int64, error) {
	v, err := safetensors.DecodeInt64(t.DType, t.data)
	if err != nil {
		return nil, fmt.Errorf("torchfile: tensor %q: %w", t.Name, err)
	}
	return v, nil
}

// F16 returns the raw binary16 values of a float16 tensor, without widening.
func (t *Tensor) F16() ([]uint16, error) { return t.halves(safetensors.DTypeF16) }

// BF16 returns the raw bfloat16 values of a bfloat16 tensor, without widening.
func (t *Tensor) BF16() ([]uint16, error) { return t.halves(safetensors.DTypeBF16) }

func (t *Tensor) halves(want safetensors.DType) ([]uint16, error) {
	if t.DType != want {
		return nil, fmt.Errorf("torchfile: tensor %q: dtype is %s, not %s", t.Name, t.DType, want)
	}
	return safetensors.DecodeUint16(t.data), nil
}

// Safetensor returns the tensor in the form safetensors.Write takes.
func (t *Tensor) Safetensor() safetensors.Tensor {
	return safetensors.Tensor{Name: t.Name, DType: t.DType, Shape: slices.Clone(t.Shape), Data: t.data}
}

// Load reads the state dict of the checkpoint at path, in the order the
// state dict lists its entries.
func Load(path string) ([]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	return Read(f, st.Size(), path)
}

// LoadMap is Load returning the tensors by name.
func LoadMap(path string) (map[string]*Tensor, error) {
	ts, err := Load(path)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*Tensor, len(ts))
	for i := range ts {
		m[ts[i].Name] = &ts[i]
	}
	return m, nil
}

// Read reads a checkpoint of size bytes from r; name is used in messages.
func Read(r io.ReaderAt, size int64, name string) ([]Tensor, error) {
	a, entries, err := openArchive(r, size, name)
	if err != nil {
		return nil, err
	}
	out := make([]Tensor, 0, len(entries))
	for _, e := range entries {
		t, err := materialise(e.name, e.t, a.storage)
		if err != nil {
			return nil, fmt.Errorf("torchfile: %s: %s: %w", a.name, a.pickle, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// openArchive reads the archive's directory and its pickled state dict.
func openArchive(r io.ReaderAt, size int64, name string) (*archive, []entry, error) {
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < 4 || string(magic[:]) != "PK\x03\x04" {
		if n >= 2 && magic[0] == 0x80 {
			return nil, nil, fmt.Errorf("torchfile: %s: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch.save in PyTorch 1.6 or later", name)
		}
		return nil, nil, fmt.Errorf("torchfile: %s: not a torch.save zip archive", name)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("torchfile: %s: %w", name, err)
	}
	a := &archive{name: name, size: size, members: make(map[string]*zip.File)}
	for _, f := range zr.File {
		a.members[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			if a.prefix != "" {
				return nil, nil, fmt.Errorf("torchfile: %s: two data.pkl members (%sdata.pkl and %s)", name, a.prefix, f.Name)
			}
			a.prefix = strings.TrimSuffix(f.Name, "data.pkl")
		}
	}
	if a.prefix == "" {
		for n := range a.members {
			if strings.HasSuffix(n, "constants.pkl") {
				return nil, nil, fmt.Errorf("torchfile: %s: a TorchScript archive (torch.jit.save), not a torch.save checkpoint", name)
			}
		}
		return nil, nil, fmt.Errorf("torchfile: %s: no <prefix>/data.pkl member: not a torch.save checkpoint", name)
	}
	if bo, ok := a.members[a.prefix+"byteorder"]; ok {
		b, err := a.readMember(bo, 16, int64(min(bo.UncompressedSize64, 16)))
		if err != nil {
			return nil, nil, err
		}
		switch s := strings.TrimSpace(string(b)); s {
		case "little":
		case "big":
			a.bigEndian = true
		default:
			return nil, nil, fmt.Errorf("torchfile: %s: %s: unknown byte order %q", name, bo.Name, s)
		}
	}
	a.pickle = a.prefix + "data.pkl"
	pf := a.members[a.pickle]
	pkl, err := a.readMember(pf, MaxPickleSize, int64(pf.UncompressedSize64))
	if err != nil {
		return nil, nil, err
	}
	entries, err := stateDict(pkl)
	if err != nil {
		return nil, nil, fmt.Errorf("torchfile: %s: %s: %w", a.name, a.pickle, err)
	}
	if err := a.checkStorages(entries); err != nil {
		return nil, nil, err
	}
	return a, entries, nil
}

// Decompression budget: torch.save stores storages uncompressed, so a
// compressed storage is unusual and one that expands far beyond the file's
// size is a zip bomb. The bytes the tensors need from compressed storages
// may be at most MaxInflateRatio times the file's size plus inflateSlack.
const (
	MaxInflateRatio = 16
	inflateSlack    = 64 << 20
)

// checkStorages checks every tensor's view and its storage member, records
// how much of each storage the tensors need (only that much is ever read),
// and applies the decompression budget, before any storage is read.
func (a *archive) checkStorages(entries []entry) error {
	var order []*pyStorage
	first := map[*pyStorage]string{} // the first tensor viewing each storage
	for _, e := range entries {
		_, _, need, err := checkView(e.name, e.t)
		if err != nil {
			return fmt.Errorf("torchfile: %s: %s: %w", a.name, a.pickle, err)
		}
		s := e.t.storage
		if need > 0 && s.need == 0 {
			order = append(order, s)
			first[s] = e.name
		}
		s.need = max(s.need, need)
	}
	var inflated int64
	for _, s := range order {
		f, _, err := a.storageMember(s)
		if err != nil {
			return fmt.Errorf("torchfile: %s: %s: tensor %s: %w", a.name, a.pickle, quote(first[s]), err)
		}
		if f.Method != zip.Store {
			inflated += s.need
		}
	}
	if lim := MaxInflateRatio*a.size + inflateSlack; inflated > lim {
		return fmt.Errorf("torchfile: %s: the tensors need %d bytes from compressed storages, over the decompression limit of %d "+
			"(%d × the file's %d bytes + %d MiB; torch.save stores storages uncompressed: this is a zip bomb or not a torch.save file)",
			a.name, inflated, lim, MaxInflateRatio, a.size, inflateSlack>>20)
	}
	return nil
}

type archive struct {
	name      string
	size      int64
	prefix    string
	pickle    string // the data.pkl member
	members   map[string]*zip.File
	bigEndian bool
	loaded    map[*pyStorage][]byte
	noCache   bool   // read a storage each time it is asked for, into scratch (Checkpoint)
	scratch   []byte // reused by the storages read with noCache
}

// maxRatio bounds a member's uncompressed/compressed size ratio (deflate
// cannot exceed about 1032): a larger claim is a corrupt or hostile header,
// refused before memory is allocated for it.
const maxRatio = 1100

// readMember reads the first need bytes of member f, whose uncompressed
// size may be at most limit; a member read whole has its CRC-32 verified.
func (a *archive) readMember(f *zip.File, limit, need int64) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("torchfile: %s: %s: %s", a.name, f.Name, fmt.Sprintf(format, args...))
	}
	switch u, c := f.UncompressedSize64, f.CompressedSize64; {
	case u > uint64(limit):
		return fail("%d bytes, more than expected (%d)", u, limit)
	case c > uint64(a.size):
		return fail("compressed size %d exceeds the archive's %d bytes", c, a.size)
	case f.Method == zip.Store && u != c:
		return fail("stored member of %d bytes claims %d uncompressed", c, u)
	case u > c*maxRatio+64 || u > math.MaxInt:
		return fail("claims %d bytes from %d compressed", u, c)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: %s: %w", a.name, f.Name, err)
	}
	defer rc.Close()
	if need < 0 || uint64(need) > f.UncompressedSize64 {
		return fail("%d bytes needed of %d", need, f.UncompressedSize64)
	}
	var b []byte
	if a.noCache && f.Name != a.pickle {
		// Storages of a Checkpoint go through one reused buffer.
		if int64(cap(a.scratch)) < need {
			a.scratch = make([]byte, need)
		}
		b = a.scratch[:need]
	} else {
		b = make([]byte, need)
	}
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("torchfile: %s: %s: %w", a.name, f.Name, err)
	}
	if uint64(need) < f.UncompressedSize64 {
		// Only part of the storage is viewed by a tensor (torch.save
		// writes a view's whole storage): the rest is not read.
		return b, nil
	}
	// Reading to EOF lets archive/zip verify the member's CRC-32.
	if n, err := rc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("more data than the %d bytes its header says", f.UncompressedSize64)
		}
		return nil, fmt.Errorf("torchfile: %s: %s: %w", a.name, f.Name, err)
	}
	return b, nil
}

// storageMember returns the archive member holding s and its size, after
// checking that the member exists and has s's size.
func (a *archive) storageMember(s *pyStorage) (*zip.File, int64, error) {
	member := a.prefix + "data/" + s.key
	f, ok := a.members[member]
	if !ok {
		return nil, 0, fmt.Errorf("member %s missing", plain(member))
	}
	es := int64(s.dtype.Size())
	if s.numel > (1<<62)/es {
		return nil, 0, fmt.Errorf("storage %s: %d elements is too many", plain(member), s.numel)
	}
	want := s.numel * es
	if f.UncompressedSize64 != uint64(want) {
		return nil, 0, fmt.Errorf("%s is %d bytes, storage %s[%d] needs %d", plain(member), f.UncompressedSize64, s.typeName, s.numel, want)
	}
	return f, want, nil
}

// storage returns the bytes of s (little-endian), reading its member once
// (each time it is asked for, with noCache).
func (a *archive) storage(s *pyStorage) ([]byte, error) {
	if b, ok := a.loaded[s]; ok {
		return b, nil
	}
	f, want, err := a.storageMember(s)
	if err != nil {
		return nil, err
	}
	es := int64(s.dtype.Size())
	b, err := a.readMember(f, want, s.need)
	if err != nil {
		return nil, err
	}
	if a.bigEndian {
		swapBytes(b, int(es))
	}
	if a.noCache {
		return b, nil
	}
	if a.loaded == nil {
		a.loaded = make(map[*pyStorage][]byte)
	}
	a.loaded[s] = b
	return b, nil
}

func swapBytes(b []byte, size int) {
	if size == 1 {
		return
	}
	for i := 0; i+size <= len(b); i += size {
		slices.Reverse(b[i : i+size])
	}
}

type entry struct {
	name string
	t    *pyTensor
}

// stateDict unpickles data and finds the state dict in it: the object itself,
// or its "state_dict" entry (open_clip training checkpoints). A "module."
// prefix on every name (DistributedDataParallel) is removed.
func stateDict(data []byte) ([]entry, error) {
	root, err := unpickle(data)
	if err != nil {
		return nil, err
	}
	d, ok := root.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("pickled object is a %s, not a state dict", typeName(root))
	}
	if sd, ok := d.get("state_dict"); ok {
		inner, ok := sd.(*pyDict)
		if !ok {
			return nil, fmt.Errorf(`"state_dict" is a %s, not a dict`, typeName(sd))
		}
		d = inner
	}
	entries := make([]entry, 0, len(d.keys))
	allModule := len(d.keys) > 0
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %d is a %s, not a string", i, typeName(k))
		}
		t, ok := d.vals[i].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("state dict entry %s is a %s, not a tensor", quote(name), typeName(d.vals[i]))
		}
		if !strings.HasPrefix(name, "module.") {
			allModule = false
		}
		entries = append(entries, entry{name, t})
	}
	if allModule {
		for i := range entries {
			entries[i].name = strings.TrimPrefix(entries[i].name, "module.")
		}
	}
	return entries, nil
}

// maxExpand bounds the bytes a tensor may materialise beyond its storage's
// size (a stride-0 expanded view): hostile files cannot request terabytes.
const maxExpand = 1 << 28

// materialise copies tensor t out of its storage as a contiguous row-major
// tensor, checking every index against the storage's bounds. load returns
// at least the bytes of the storage that t views.
func materialise(name string, t *pyTensor, load func(*pyStorage) ([]byte, error)) (Tensor, error) {
	s := t.storage
	fail := func(format string, args ...any) (Tensor, error) {
		return Tensor{}, fmt.Errorf("tensor %s: %s", quote(name), fmt.Sprintf(format, args...))
	}
	out, numel, need, err := checkView(name, t)
	if err != nil || numel == 0 {
		return out, err
	}
	es := int64(s.dtype.Size())
	raw, err := load(s)
	if err != nil {
		return fail("%v", err)
	}
	if int64(len(raw)) < need {
		return fail("storage %s: %d bytes read, the tensor needs %d", quote(s.key), len(raw), need)
	}
	if contiguous(t.size, t.stride) {
		out.data = raw[t.offset*es : (t.offset+numel)*es : (t.offset+numel)*es]
		return out, nil
	}
	// Strided gather, last dimension innermost.
	data := make([]byte, numel*es)
	idx := make([]int64, len(t.size))
	src := t.offset
	nd := len(t.size)
	for o := int64(0); o < numel; o++ {
		copy(data[o*es:(o+1)*es], raw[src*es:(src+1)*es])
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			src -= t.stride[d] * idx[d]
			idx[d] = 0
		}
	}
	out.data = data
	return out, nil
}

// checkView checks that tensor t's size, stride and offset stay inside its
// storage (and within bounds no hostile file may exceed) and returns the
// tensor without data (empty data when it has no elements), its number of
// elements and the bytes of the storage it views (a prefix: up to its last
// element; 0 when it has no elements).
func checkView(name string, t *pyTensor) (Tensor, int64, int64, error) {
	s := t.storage
	fail := func(format string, args ...any) (Tensor, int64, int64, error) {
		return Tensor{}, 0, 0, fmt.Errorf("tensor %s: %s", quote(name), fmt.Sprintf(format, args...))
	}
	if len(t.size) != len(t.stride) {
		return fail("size %s and stride %s differ in length", dims(t.size), dims(t.stride))
	}
	if len(t.size) > maxDims {
		return fail("%d dimensions, more than the limit of %d", len(t.size), maxDims)
	}
	if t.offset < 0 {
		return fail("negative storage_offset %d", t.offset)
	}
	const lim = int64(1) << 50
	numel := int64(1)
	maxIdx := t.offset
	for i, n := range t.size {
		st := t.stride[i]
		if n < 0 || n > lim {
			return fail("size %s: dimension %d out of range", dims(t.size), i)
		}
		if st < 0 || st > lim {
			return fail("stride %s: dimension %d out of range", dims(t.stride), i)
		}
		if numel != 0 && n > lim/numel {
			return fail("size %s has too many elements", dims(t.size))
		}
		numel *= n
	}
	es := int64(s.dtype.Size())
	shape := make([]int, len(t.size))
	for i, n := range t.size {
		shape[i] = int(n)
	}
	out := Tensor{Name: name, DType: s.dtype, Shape: shape}
	if numel == 0 {
		out.data = []byte{}
		return out, 0, 0, nil
	}
	if maxIdx > lim {
		return fail("storage_offset %d out of range", t.offset)
	}
	for i, n := range t.size {
		// n >= 1 here; keep offset + sum (n-1)*stride below lim without overflow.
		if st := t.stride[i]; n > 1 && st > 0 {
			if st > (lim-maxIdx)/(n-1) {
				return fail("storage_offset %d, size %s, stride %s: index overflow", t.offset, dims(t.size), dims(t.stride))
			}
			maxIdx += (n - 1) * st
		}
	}
	if maxIdx >= s.numel {
		return fail("storage_offset %d, size %s, stride %s reach element %d of a %d-element storage %s",
			t.offset, dims(t.size), dims(t.stride), maxIdx, s.numel, quote(s.key))
	}
	if numel*es > maxExpand && numel > s.numel {
		return fail("size %s expands storage %s of %d elements to %d", dims(t.size), quote(s.key), s.numel, numel)
	}
	return out, numel, (maxIdx + 1) * es, nil
}

// maxDims bounds a tensor's number of dimensions (torch allows 64).
const maxDims = 64

// contiguous reports whether stride is row-major for size (dimensions of
// size 1 may have any stride).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// ToSafetensors converts the checkpoint at inPath to a safetensors file at
// outPath (written atomically), keeping each tensor's dtype and the state
// dict's names.
func ToSafetensors(inPath, outPath string) error {
	ts, err := Load(inPath)
	if err != nil {
		return err
	}
	st := make([]safetensors.Tensor, len(ts))
	for i := range ts {
		st[i] = ts[i].Safetensor()
	}
	meta := map[string]string{"format": "pt", "converted_from": path.Base(strings.ReplaceAll(inPath, "\\", "/"))}
	if err := safetensors.WriteFile(outPath, st, meta); err != nil {
		return fmt.Errorf("torchfile: converting %s: %w", inPath, err)
	}
	return nil
}
