package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/tensor/safetensors"
	"github.com/gococa/gococa/tensor/torchfile"
)

// initFile is what --init's file says about itself besides its weights.
type initFile struct {
	config *coca.Config // the config stored in a .safetensors written by gococa, or nil
	merges []byte       // its tokenizer: stored merges or tokenizer.txt beside it, or nil
	from   string       // where merges came from
}

// inspectInit reads --init's stored config and tokenizer without loading
// its weights.
func inspectInit(path string) (initFile, error) {
	var f initFile
	st, err := os.Stat(path)
	if err != nil {
		return f, fmt.Errorf("train: --init: %w", err)
	}
	if !st.Mode().IsRegular() {
		return f, fmt.Errorf("train: --init %s: not a regular file", path)
	}
	if isSafetensors(path) {
		sf, err := safetensors.Open(path)
		if err != nil {
			return f, fmt.Errorf("train: --init: %w", err)
		}
		meta := sf.Metadata()
		sf.Close()
		if c := meta["coca_config"]; c != "" {
			if f.config, err = coca.ParseConfig([]byte(c), path+" (stored config)"); err != nil {
				return f, fmt.Errorf("train: --init: %w", err)
			}
		}
		if m := meta["tokenizer_merges"]; m != "" {
			f.merges, f.from = []byte(m), path+" (stored merges)"
		}
	}
	if f.merges == nil {
		beside := filepath.Join(filepath.Dir(path), "tokenizer.txt")
		if b, err := os.ReadFile(beside); err == nil {
			f.merges, f.from = b, beside
		}
	}
	return f, nil
}

func isSafetensors(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".safetensors")
}

// loadWeights reads a checkpoint in any format the library reads (a
// .safetensors file, or open_clip's .bin/.pt torch.save files) into m,
// strictly: every mismatched, missing or extra tensor is an error naming the
// file.
func loadWeights(m *coca.Model, path string) error {
	if isSafetensors(path) {
		f, err := safetensors.Open(path)
		if err != nil {
			return fmt.Errorf("train: --init: %w", err)
		}
		defer f.Close()
		return m.Load(coca.SafetensorsSource(f), path)
	}
	ck, err := torchfile.Open(path)
	if err != nil {
		return fmt.Errorf("train: --init %s: %w", path, err)
	}
	defer ck.Close()
	return m.Load(ck, path)
}
