package torchfile

import (
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/gococa/gococa/tensor/safetensors"
)

// Checkpoint is a state dict read on demand: Open reads the archive's
// directory and its pickle and checks every tensor against its storage;
// each accessor then reads the one tensor it is asked for (its storage
// member, checksum verified), so that a loader holds one tensor's bytes at
// a time, never the whole file. Its accessors are shaped like
// safetensors.File's (Names, Shape, Float32, Raw) so callers can treat both
// formats alike. Close releases the file.
type Checkpoint struct {
	// Path is the file the checkpoint was read from.
	Path    string
	f       *os.File
	a       *archive
	entries []entry
	byName  map[string]int
	names   []string
}

// Open opens the checkpoint at path. A malformed archive or pickle, or a
// tensor that does not fit its storage, is an error naming the file.
func Open(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	c, err := openFile(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func openFile(f *os.File, path string) (*Checkpoint, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	a, entries, err := openArchive(f, st.Size(), path)
	if err != nil {
		return nil, err
	}
	a.noCache = true
	c := &Checkpoint{Path: path, f: f, a: a, entries: entries, byName: make(map[string]int, len(entries))}
	for i, e := range entries {
		if _, dup := c.byName[e.name]; dup {
			return nil, fmt.Errorf("torchfile: %s: duplicate tensor name %s", path, quote(e.name))
		}
		c.byName[e.name] = i
		c.names = append(c.names, e.name)
	}
	sort.Strings(c.names)
	return c, nil
}

// Close releases the file. Accessors fail afterwards.
func (c *Checkpoint) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// Names returns the tensor names sorted. The slice is shared: do not modify it.
func (c *Checkpoint) Names() []string { return c.names }

// Shape returns the named tensor's shape.
func (c *Checkpoint) Shape(name string) ([]int, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	s := make([]int, len(c.entries[i].t.size))
	for j, n := range c.entries[i].t.size {
		s[j] = int(n)
	}
	return s, true
}

// DType returns the named tensor's element type.
func (c *Checkpoint) DType(name string) (safetensors.DType, bool) {
	i, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return c.entries[i].t.storage.dtype, true
}

// Tensor reads the named tensor into new memory.
func (c *Checkpoint) Tensor(name string) (*Tensor, error) {
	t, err := c.read(name)
	if err != nil {
		return nil, err
	}
	t.data = slices.Clone(t.data)
	return t, nil
}

// read reads the named tensor; its data may be the archive's reused
// buffer, valid until the next read.
func (c *Checkpoint) read(name string) (*Tensor, error) {
	i, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("torchfile: %s: no tensor %s", c.Path, quote(name))
	}
	if c.f == nil {
		return nil, fmt.Errorf("torchfile: %s: checkpoint already closed", c.Path)
	}
	t, err := materialise(name, c.entries[i].t, c.a.storage)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: %s: %w", c.Path, c.a.pickle, err)
	}
	return &t, nil
}

// Raw reads the named tensor and returns its element type and bytes
// (row-major, little-endian). The bytes are a buffer the checkpoint reuses:
// they are valid until the next read from it.
func (c *Checkpoint) Raw(name string) (safetensors.DType, []byte, error) {
	t, err := c.read(name)
	if err != nil {
		return "", nil, err
	}
	return t.DType, t.data, nil
}

// Float32 reads the named tensor and converts it to a new []float32.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	t, err := c.read(name)
	if err != nil {
		return nil, err
	}
	return t.Float32(), nil
}
