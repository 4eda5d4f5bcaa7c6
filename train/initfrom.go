package train

import (
	"fmt"
	"os"
	"strings"

	"github.com/gococa/gococa/coca"
)

// initFile is --init: a checkpoint opened with the library's loader
// (coca.OpenCheckpoint: a .safetensors or PyTorch file, a coca train run
// directory, a Hugging Face hub snapshot) and what it says about its model.
type initFile struct {
	ck         *coca.Checkpoint
	config     *coca.Config // the checkpoint's config (Checkpoint.Config), or nil
	configErr  error        // why there is none
	configFrom string
	merges     []byte // its tokenizer's merges (Checkpoint.Tokenizer), nil for CLIP's
	mergesFrom string
}

// inspectInit opens --init and reads its config and tokenizer, but not its
// weights. Close it with close.
func inspectInit(path string) (*initFile, error) {
	ck, err := coca.OpenCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("train: --init: %w", err)
	}
	f := &initFile{ck: ck}
	f.config, f.configFrom, f.configErr = ck.Config()
	_, from, err := ck.Tokenizer()
	if err != nil {
		ck.Close()
		return nil, fmt.Errorf("train: --init: %w", err)
	}
	switch {
	case from == "clip":
	case strings.HasPrefix(from, "stored in "):
		f.merges, f.mergesFrom = []byte(ck.Metadata["tokenizer_merges"]), from
	default:
		if f.merges, err = os.ReadFile(from); err != nil {
			ck.Close()
			return nil, fmt.Errorf("train: --init: tokenizer: %w", err)
		}
		f.mergesFrom = from
	}
	return f, nil
}

// load reads the weights into m, strictly: every mismatched, missing or
// extra tensor is an error naming the file (and the built-in config the
// file's shapes show, when they show one).
func (f *initFile) load(m *coca.Model) error {
	err := m.Load(f.ck.Source(), f.ck.Path)
	if err == nil {
		return nil
	}
	if _, name, derr := coca.DetectConfig(f.ck.Source()); derr == nil {
		return fmt.Errorf("train: --init: its tensor shapes are those of the built-in config %s (pass --config %s): %w", name, name, err)
	}
	return fmt.Errorf("train: --init: %w", err)
}

func (f *initFile) close() {
	if f != nil {
		f.ck.Close()
	}
}
