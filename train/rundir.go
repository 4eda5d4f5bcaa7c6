package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The files a run writes in its directory. A fresh run refuses a directory
// holding any of the ones in runMarkers; --force removes exactly these (and
// the temp files of their atomic writes), nothing else.
var (
	runMarkers = []string{runFile, checkpointFile, "metrics.jsonl", "model.safetensors", "ckpt"}
	runOutputs = []string{runFile, checkpointFile, "metrics.jsonl", "model.safetensors", "config.json",
		"tokenizer.txt", "samples.txt", "loss.png", "metrics.png", reportFile}
)

// dirState is what a run directory holds before a run starts.
type dirState struct {
	holdsRun bool
	markers  []string       // the run files present
	ckpt     checkpointInfo // valid when hasCkpt
	hasCkpt  bool
	ckptErr  error // checkpoint.json present but unreadable
	model    bool  // a final model.safetensors
}

func inspectRunDir(dir string) (dirState, error) {
	var st dirState
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("train: --out: %w", err)
	}
	if !info.IsDir() {
		return st, fmt.Errorf("train: --out %s: not a directory", dir)
	}
	for _, name := range runMarkers {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			st.markers = append(st.markers, name)
		}
	}
	st.holdsRun = len(st.markers) > 0
	st.ckpt, st.hasCkpt, st.ckptErr = readCheckpointInfo(dir)
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		st.model = true
	}
	return st, nil
}

// describe says what the directory holds, for the refusal message.
func (st *dirState) describe() string {
	switch {
	case st.hasCkpt && st.model:
		return fmt.Sprintf("a finished run (model.safetensors; last checkpoint at step %d)", st.ckpt.Step)
	case st.hasCkpt:
		return fmt.Sprintf("a run with a checkpoint at step %d", st.ckpt.Step)
	case st.model:
		return "a trained model (model.safetensors)"
	}
	return "a run (" + strings.Join(st.markers, ", ") + ")"
}

// isTemp reports whether name is a temp file of an atomic write
// (".NAME.tmpNNN", written by writeFileAtomic and safetensors.WriteFile).
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// cleanStale removes what a crash can leave behind: temp files of atomic
// writes in dir and dir/ckpt, and checkpoint files that checkpoint.json does
// not name (keep is the checkpoint's info, or nil to remove every step file).
// It returns the names removed.
func cleanStale(dir string, keep *checkpointInfo) ([]string, error) {
	var removed []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !e.IsDir() && isTemp(e.Name()) && ownsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, fmt.Errorf("train: removing %s: %w", e.Name(), err)
			}
			removed = append(removed, e.Name())
		}
	}
	ck := filepath.Join(dir, "ckpt")
	ents, _ = os.ReadDir(ck)
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !(strings.HasPrefix(name, "step-") || strings.HasPrefix(name, ".step-")) {
			continue
		}
		rel := filepath.Join("ckpt", name)
		if keep != nil && (rel == filepath.Clean(keep.Model) || rel == filepath.Clean(keep.Optimizer)) {
			continue
		}
		if err := os.Remove(filepath.Join(ck, name)); err != nil {
			return removed, fmt.Errorf("train: removing %s: %w", rel, err)
		}
		removed = append(removed, rel)
	}
	return removed, nil
}

// ownsTemp reports whether a temp file belongs to one of the run's files.
func ownsTemp(name string) bool {
	for _, f := range runOutputs {
		if strings.HasPrefix(name, "."+f+".tmp") {
			return true
		}
	}
	return false
}

// removeRun deletes a run's files from dir (--force).
func removeRun(dir string) error {
	if _, err := cleanStale(dir, nil); err != nil {
		return err
	}
	for _, name := range runOutputs {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("train: --force: %w", err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "ckpt")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("train: --force: %w (it holds files that are not checkpoints)", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, samplesDir))
	for _, e := range ents {
		if isSampleImage(e.Name()) {
			os.Remove(filepath.Join(dir, samplesDir, e.Name()))
		}
	}
	os.Remove(filepath.Join(dir, samplesDir)) // only when empty
	return nil
}

// metricLine is what resume reads back from metrics.jsonl.
type metricLine struct {
	Step        int      `json:"step"`
	Loss        *float64 `json:"loss"`
	Contrastive float64  `json:"contrastive_loss"`
	Caption     float64  `json:"caption_loss"`
	Elapsed     float64  `json:"elapsed_s"`
	Metrics
}

// truncateMetrics keeps the lines of metrics.jsonl up to step (those a run
// resumed from the checkpoint at step would write again) and returns them.
// A torn last line is dropped. The file is replaced atomically, and only
// when something is dropped.
func truncateMetrics(path string, step int) (kept []metricLine, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	dropped := false
	for sc.Scan() {
		line := sc.Bytes()
		var m metricLine
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &m); err != nil || m.Step > step {
			dropped = true
			continue
		}
		kept = append(kept, m)
		out.Write(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	if !dropped && out.Len() == len(b) {
		return kept, nil
	}
	if err := writeFileAtomic(path, out.Bytes()); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return kept, nil
}
