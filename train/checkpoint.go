package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/optim"
	"github.com/gococa/gococa/tensor/safetensors"
)

// A run directory's checkpoint is three files:
//
//	ckpt/step-NNNNNNN.model.safetensors   model parameters (open_clip names)
//	ckpt/step-NNNNNNN.optim.safetensors   optimizer state
//	checkpoint.json                       which pair is the latest, and the step
//
// The two tensor files are written first (each atomically: temp file, fsync,
// rename), then checkpoint.json is replaced atomically, then older pairs are
// removed. A crash at any point leaves checkpoint.json naming a complete pair.
const checkpointFile = "checkpoint.json"

// checkpointInfo is checkpoint.json.
type checkpointInfo struct {
	Step      int    `json:"step"`
	Model     string `json:"model"`
	Optimizer string `json:"optimizer"`
	Seed      uint64 `json:"seed"`
	Epoch     int    `json:"epoch"`    // data epoch of the next batch
	Position  int    `json:"position"` // position in that epoch's order (items)
	// Window holds the loss sums of the steps since the last metrics line.
	Window logWindow `json:"log_window,omitzero"`
}

// logWindow sums the losses of the steps since the last metrics line.
type logWindow struct {
	Steps       int     `json:"steps"`
	Loss        float64 `json:"loss"`
	Contrastive float64 `json:"contrastive_loss"`
	Caption     float64 `json:"caption_loss"`
}

// saveHook is called between the stages of a save (tests interrupt saves
// with it).
var saveHook = func(stage string) {}

func saveCheckpoint(dir string, info checkpointInfo, m *coca.Model, st optim.State, meta map[string]string) error {
	step := info.Step
	ck := filepath.Join(dir, "ckpt")
	if err := os.MkdirAll(ck, 0o755); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	base := fmt.Sprintf("step-%07d", step)
	modelPath := filepath.Join(ck, base+".model.safetensors")
	optPath := filepath.Join(ck, base+".optim.safetensors")
	md := map[string]string{"format": "pt", "coca_config": string(m.Config.JSON()), "step": fmt.Sprint(step)}
	for k, v := range meta {
		md[k] = v
	}
	if err := safetensors.WriteFile(modelPath, m.Tensors(), md); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	saveHook("model")
	if err := st.WriteFile(optPath); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	saveHook("optimizer")
	info.Model = filepath.Join("ckpt", base+".model.safetensors")
	info.Optimizer = filepath.Join("ckpt", base+".optim.safetensors")
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, checkpointFile), append(b, '\n')); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	saveHook("pointer")
	// Remove older pairs.
	ents, _ := os.ReadDir(ck)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base+".") && strings.HasPrefix(e.Name(), "step-") {
			os.Remove(filepath.Join(ck, e.Name()))
		}
	}
	return nil
}

// readCheckpointInfo reads checkpoint.json; ok is false when there is none.
func readCheckpointInfo(dir string) (info checkpointInfo, ok bool, err error) {
	path := filepath.Join(dir, checkpointFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return info, false, nil
	}
	if err != nil {
		return info, false, fmt.Errorf("train: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, false, fmt.Errorf("train: %s: %v", path, err)
	}
	if info.Model == "" || info.Optimizer == "" || info.Step < 0 {
		return info, false, fmt.Errorf("train: %s: incomplete (model %q, optimizer %q, step %d)", path, info.Model, info.Optimizer, info.Step)
	}
	return info, true, nil
}

// loadCheckpoint restores the model and optimizer from dir's latest
// checkpoint and returns its description.
func loadCheckpoint(dir string, m *coca.Model, opt optim.Optimizer) (checkpointInfo, error) {
	info, ok, err := readCheckpointInfo(dir)
	if err != nil {
		return info, err
	}
	if !ok {
		return info, fmt.Errorf("train: --resume: no %s in %s", checkpointFile, dir)
	}
	if err := m.LoadSafetensors(filepath.Join(dir, info.Model)); err != nil {
		return info, err
	}
	st, err := optim.ReadStateFile(filepath.Join(dir, info.Optimizer))
	if err != nil {
		return info, err
	}
	if err := opt.LoadState(st); err != nil {
		return info, fmt.Errorf("train: %s: %w", filepath.Join(dir, info.Optimizer), err)
	}
	return info, nil
}

// writeFileAtomic writes data to path through a temp file in the same
// directory: write, fsync, rename, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
