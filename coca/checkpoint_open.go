package coca

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
	"github.com/gococa/gococa/tokenizer"
)

// Checkpoint formats (Checkpoint.Format).
const (
	FormatSafetensors = "safetensors" // a .safetensors file (coca train, coca convert, the HF hub)
	FormatPyTorch     = "pytorch"     // torch.save's zip archive (.bin, .pt, .pth): a state dict or an open_clip training checkpoint
)

// Files looked for in a directory given to OpenCheckpoint, in order.
const (
	// TrainedModelFile is the final model coca train writes in its run directory.
	TrainedModelFile = "model.safetensors"
	// HFSafetensorsFile and HFPyTorchFile are the weights of an open_clip model
	// on the Hugging Face hub.
	HFSafetensorsFile = "open_clip_model.safetensors"
	HFPyTorchFile     = "open_clip_pytorch_model.bin"
	// HFConfigFile is the open_clip config beside them:
	// {"model_cfg": {...}, "preprocess_cfg": {...}}.
	HFConfigFile = "open_clip_config.json"
	// TokenizerFile holds the BPE merges of a model trained with its own
	// tokenizer (coca train writes it beside the model).
	TokenizerFile = "tokenizer.txt"
)

// Checkpoint is a checkpoint file opened by OpenCheckpoint: its tensors,
// read on demand, and what the file and its directory say about the model
// (config, tokenizer). Close releases the file.
type Checkpoint struct {
	// Path is the weights file.
	Path string
	// Format is FormatSafetensors or FormatPyTorch.
	Format string
	// Metadata is a safetensors file's metadata (nil for PyTorch files).
	Metadata map[string]string

	src    RawTensorSource
	closer io.Closer
}

// OpenCheckpoint opens model weights. path is a weights file (safetensors or
// PyTorch, told apart by their contents, whatever the extension) or a
// directory holding one:
//
//   - a run directory of coca train: its final model.safetensors, else the
//     latest checkpoint named by checkpoint.json;
//   - a Hugging Face hub snapshot of an open_clip model
//     (open_clip_model.safetensors or open_clip_pytorch_model.bin, with
//     open_clip_config.json beside it);
//   - a hub cache folder models--ORG--NAME (the snapshot refs/main names).
//
// Only regular files are read. Errors name the path.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	file, err := findWeights(path)
	if err != nil {
		return nil, err
	}
	format, err := sniffFormat(file)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: file, Format: format}
	switch format {
	case FormatSafetensors:
		f, err := safetensors.Open(file)
		if err != nil {
			return nil, fmt.Errorf("coca: checkpoint %s: %w", file, err)
		}
		c.Metadata, c.src, c.closer = f.Metadata(), SafetensorsSource(f), f
	default:
		ck, err := torchfile.Open(file)
		if err != nil {
			return nil, fmt.Errorf("coca: checkpoint %s: %w", file, err)
		}
		c.src, c.closer = ck, ck
	}
	return c, nil
}

// Source returns the checkpoint's tensors, for Model.Load and Model.LoadBF16.
func (c *Checkpoint) Source() RawTensorSource { return c.src }

// Close releases the file.
func (c *Checkpoint) Close() error {
	if c.closer == nil {
		return nil
	}
	err := c.closer.Close()
	c.closer = nil
	return err
}

// Dir returns the directory holding the weights file.
func (c *Checkpoint) Dir() string { return filepath.Dir(c.Path) }

// Config returns the model's config and where it came from, looking in
// order at: the config a safetensors file stores in its metadata
// ("coca_config", written by coca train and Model.SaveSafetensors);
// open_clip_config.json beside the file (the HF hub layout); config.json
// beside it (an open_clip model config, as coca train also writes); the
// tensor shapes, which name a built-in config when every shape they show
// matches one (DetectConfig). A file that is present but does not parse is
// an error, except config.json, which may belong to another program: then
// detection decides and its error mentions config.json's.
func (c *Checkpoint) Config() (cfg *Config, origin string, err error) {
	if s, ok := c.Metadata["coca_config"]; ok {
		cfg, err := ParseConfig([]byte(s), c.Path+" (stored config)")
		return cfg, "stored in " + c.Path, err
	}
	if p := filepath.Join(c.Dir(), HFConfigFile); isRegular(p) {
		cfg, err := LoadConfig(p) // {"model_cfg": ..., "preprocess_cfg": ...}
		return cfg, p, err
	}
	var besideErr error
	if p := filepath.Join(c.Dir(), "config.json"); isRegular(p) {
		cfg, err := LoadConfig(p)
		if err == nil {
			return cfg, p, nil
		}
		besideErr = err
	}
	cfg, name, err := DetectConfig(c.src)
	if err != nil {
		if besideErr != nil {
			err = fmt.Errorf("%w (and %v)", err, besideErr)
		}
		return nil, "", fmt.Errorf("coca: checkpoint %s: %w", c.Path, err)
	}
	return cfg, "built-in " + name + " (detected from the tensor shapes)", nil
}

// Tokenizer returns the tokenizer the model was trained with and where it
// came from: the BPE merges a checkpoint of coca train stores in its
// metadata ("tokenizer_merges"), tokenizer.txt beside the file, else
// CLIP's (open_clip's CoCa models use it).
func (c *Checkpoint) Tokenizer() (*tokenizer.Tokenizer, string, error) {
	if s, ok := c.Metadata["tokenizer_merges"]; ok {
		t, err := tokenizer.LoadMerges(strings.NewReader(s), 0)
		if err != nil {
			return nil, "", fmt.Errorf("coca: checkpoint %s: stored tokenizer merges: %w", c.Path, err)
		}
		return t, "stored in " + c.Path, nil
	}
	if p := filepath.Join(c.Dir(), TokenizerFile); isRegular(p) {
		t, err := LoadTokenizer(p)
		return t, p, err
	}
	return tokenizer.New(), "clip", nil
}

// LoadTokenizer returns CLIP's tokenizer for "clip", else the BPE merges
// file at nameOrPath (as coca train writes tokenizer.txt).
func LoadTokenizer(nameOrPath string) (*tokenizer.Tokenizer, error) {
	if nameOrPath == "clip" {
		return tokenizer.New(), nil
	}
	f, err := openRegular(nameOrPath, "tokenizer")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := tokenizer.LoadMerges(f, 0)
	if err != nil {
		return nil, fmt.Errorf("coca: tokenizer %s: %w", nameOrPath, err)
	}
	return t, nil
}

// maxConfigBytes bounds checkpoint.json, read whole.
const maxConfigBytes = 1 << 20

// findWeights resolves path to a weights file.
func findWeights(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("coca: checkpoint %s: no such file or directory", path)
		}
		return "", fmt.Errorf("coca: checkpoint %s: %w", path, err)
	}
	if st.Mode().IsRegular() {
		return path, nil
	}
	if !st.IsDir() {
		return "", fmt.Errorf("coca: checkpoint %s: not a regular file", path)
	}
	// A hub cache folder: go to its snapshot.
	if isDir(filepath.Join(path, "snapshots")) {
		snap, err := hubSnapshot(path, HFSafetensorsFile, HFPyTorchFile)
		if err != nil {
			return "", err
		}
		path = snap
	}
	for _, name := range []string{TrainedModelFile, HFSafetensorsFile, HFPyTorchFile} {
		if p := filepath.Join(path, name); isRegular(p) {
			return p, nil
		}
	}
	if p, ok := latestCheckpoint(path); ok {
		return p, nil
	}
	var found []string
	ents, _ := os.ReadDir(path)
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".safetensors", ".bin", ".pt", ".pth":
			found = append(found, e.Name())
		}
	}
	msg := fmt.Sprintf("coca: checkpoint %s: a directory without %s (coca train), %s or %s (open_clip on the Hugging Face hub)",
		path, TrainedModelFile, HFSafetensorsFile, HFPyTorchFile)
	if len(found) > 0 {
		sort.Strings(found)
		msg += "; name one of its weights files: " + strings.Join(found, ", ")
	}
	return "", errors.New(msg)
}

// latestCheckpoint returns the model of a coca train run's latest
// checkpoint (checkpoint.json), when it stays inside dir.
func latestCheckpoint(dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "checkpoint.json"))
	if err != nil || len(b) > maxConfigBytes {
		return "", false
	}
	var info struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(b, &info) != nil || !filepath.IsLocal(info.Model) {
		return "", false
	}
	p := filepath.Join(dir, info.Model)
	return p, isRegular(p)
}

// sniffFormat tells a safetensors file from torch.save's zip archive by
// their first bytes.
func sniffFormat(path string) (string, error) {
	f, err := openRegular(path, "checkpoint")
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [9]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")):
		return FormatPyTorch, nil
	case n == 9 && head[8] == '{' && binary.LittleEndian.Uint64(head[:8]) > 1:
		return FormatSafetensors, nil
	case n >= 2 && head[0] == 0x80 && head[1] <= 5:
		return "", fmt.Errorf("coca: checkpoint %s: a pickle without torch.save's zip archive (PyTorch's legacy format before 1.6): load and save it again with a current PyTorch, or convert it to safetensors", path)
	case n == 0:
		return "", fmt.Errorf("coca: checkpoint %s: empty file", path)
	}
	return "", fmt.Errorf("coca: checkpoint %s: neither a safetensors file nor a PyTorch checkpoint (torch.save's zip archive)", path)
}

// openRegular opens a regular file (never a FIFO or device, which could
// block or never end).
func openRegular(path, what string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("coca: %s %s: no such file", what, path)
		}
		return nil, fmt.Errorf("coca: %s %s: %w", what, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("coca: %s %s: not a regular file", what, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("coca: %s %s: %w", what, path, err)
	}
	return f, nil
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
