package torchfile

import (
	"fmt"
	"slices"
	"sort"
)

// Checkpoint is a loaded state dict with lookups by name, shaped like
// safetensors.File's accessors (Names, Shape, Float32) so callers can treat
// both formats alike.
type Checkpoint struct {
	// Path is the file the checkpoint was read from.
	Path string
	// Tensors lists the state dict in its own order.
	Tensors []Tensor
	byName  map[string]int
	names   []string
}

// Open loads the checkpoint at path.
func Open(path string) (*Checkpoint, error) {
	ts, err := Load(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: path, Tensors: ts, byName: make(map[string]int, len(ts))}
	for i := range ts {
		if _, dup := c.byName[ts[i].Name]; dup {
			return nil, fmt.Errorf("torchfile: %s: duplicate tensor name %q", path, ts[i].Name)
		}
		c.byName[ts[i].Name] = i
		c.names = append(c.names, ts[i].Name)
	}
	sort.Strings(c.names)
	return c, nil
}

// Names returns the tensor names sorted. The slice is shared: do not modify it.
func (c *Checkpoint) Names() []string { return c.names }

// Tensor returns the named tensor.
func (c *Checkpoint) Tensor(name string) (*Tensor, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return &c.Tensors[i], true
}

// Shape returns the named tensor's shape.
func (c *Checkpoint) Shape(name string) ([]int, bool) {
	t, ok := c.Tensor(name)
	if !ok {
		return nil, false
	}
	return slices.Clone(t.Shape), true
}

// Float32 returns the named tensor converted to a new []float32.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	t, ok := c.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("torchfile: %s: no tensor %q", c.Path, name)
	}
	return t.Float32(), nil
}
