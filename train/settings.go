package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/gococa/gococa/coca"
)

// A run directory records the settings it was started with in run.json
// (runFile): every setting of the table below, after defaults, under the name
// of coca train's flag. A resumed run takes them from there: a setting the
// caller leaves unset is restored, and a strict one (it changes the trained
// numbers) set to another value is refused, naming both values. Paths are
// recorded absolute, so a run resumes from any working directory.
const runFile = "run.json"

// runFormat tags run.json.
const runFormat = "gococa-train-run/1"

// pathKind says how a setting's value is normalised before it is recorded
// or compared.
type pathKind int

const (
	plain     pathKind = iota
	pathFile           // a file or directory path
	pathData           // "synthetic" or dataset paths and shard patterns
	pathModel          // a built-in config name or a JSON file
	pathToken          // "auto", "clip" or a merges file
)

// setting is one recorded option.
type setting struct {
	name   string // coca train's flag
	ptr    any    // *string, *int, *float64 or *uint64 inside Options
	strict bool   // changing it on resume is refused
	kind   pathKind
}

// settings lists the recorded options of o.
func (o *Options) settings() []setting {
	return []setting{
		{"config", &o.Config, true, pathModel},
		{"data", &o.Data, true, pathData},
		{"val-data", &o.ValData, true, pathData},
		{"image-root", &o.ImageRoot, true, pathFile},
		{"csv-separator", &o.CSVSeparator, true, plain},
		{"csv-img-key", &o.CSVImageKey, true, plain},
		{"csv-caption-key", &o.CSVCaptionKey, true, plain},
		{"difficulty", &o.Difficulty, true, plain},
		{"held-out", &o.HeldOut, true, plain},
		{"tokenizer", &o.Tokenizer, true, pathToken},
		{"merges", &o.VocabMerges, true, plain},
		{"init", &o.Init, true, pathFile},
		{"steps", &o.Steps, true, plain},
		{"batch", &o.BatchSize, true, plain},
		{"lr", &o.LR, true, plain},
		{"min-lr", &o.MinLR, true, plain},
		{"warmup", &o.Warmup, true, plain},
		{"schedule", &o.Schedule, true, plain},
		{"optimizer", &o.Optimizer, true, plain},
		{"weight-decay", &o.WeightDecay, true, plain},
		{"clip", &o.ClipNorm, true, plain},
		{"contrastive-weight", &o.ContrastiveWeight, true, plain},
		{"caption-weight", &o.CaptionWeight, true, plain},
		{"precision", &o.Precision, true, plain},
		{"seed", &o.Seed, true, plain},
		{"log-every", &o.LogEvery, false, plain},
		{"eval-every", &o.EvalEvery, false, plain},
		{"save-every", &o.SaveEvery, false, plain},
		{"samples", &o.Samples, false, plain},
	}
}

// SettingNames lists the names Options.Explicit takes: the flags of coca
// train that set recorded options.
func SettingNames() []string {
	var o Options
	var out []string
	for _, s := range o.settings() {
		out = append(out, s.name)
	}
	return out
}

// isSet reports whether the caller set the option: named in Explicit, or
// not its zero value.
func (o *Options) isSet(name string) bool {
	if o.Explicit[name] {
		return true
	}
	for _, s := range o.settings() {
		if s.name == name {
			return !reflect.ValueOf(s.ptr).Elem().IsZero()
		}
	}
	return false
}

// checkExplicit rejects names in Explicit that are no setting.
func (o *Options) checkExplicit() error {
	known := map[string]bool{}
	for _, s := range o.settings() {
		known[s.name] = true
	}
	var bad []string
	for n := range o.Explicit {
		if !known[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("train: Options.Explicit names unknown settings %q (known: %s)", bad, strings.Join(SettingNames(), ", "))
	}
	return nil
}

// normalizePaths makes the set path options absolute, in the form they are
// recorded and compared.
func (o *Options) normalizePaths() error {
	for _, s := range o.settings() {
		p, ok := s.ptr.(*string)
		if !ok || *p == "" {
			continue
		}
		v, err := normalizePath(*p, s.kind)
		if err != nil {
			return fmt.Errorf("train: --%s %s: %w", s.name, *p, err)
		}
		*p = v
	}
	return nil
}

func normalizePath(v string, kind pathKind) (string, error) {
	switch kind {
	case pathFile:
		return filepath.Abs(v)
	case pathModel:
		if _, err := coca.Builtin(v); err == nil {
			return v, nil
		}
		return filepath.Abs(v)
	case pathToken:
		if v == "auto" || v == "clip" {
			return v, nil
		}
		return filepath.Abs(v)
	case pathData:
		if v == "synthetic" {
			return v, nil
		}
		parts := splitDataSpec(v)
		for i, p := range parts {
			a, err := filepath.Abs(p)
			if err != nil {
				return "", err
			}
			parts[i] = a
		}
		return strings.Join(parts, "::"), nil
	}
	return v, nil
}

// splitDataSpec splits a --data value into its parts: webdataset shard
// patterns joined by "::" (open_clip's form) or by commas outside braces when
// every comma-separated part names .tar shards; anything else is one path.
func splitDataSpec(v string) []string {
	var parts []string
	for _, p := range strings.Split(v, "::") {
		var sub []string
		depth, start := 0, 0
		for i, c := range p {
			switch c {
			case '{':
				depth++
			case '}':
				depth--
			case ',':
				if depth == 0 {
					sub = append(sub, p[start:i])
					start = i + 1
				}
			}
		}
		sub = append(sub, p[start:])
		tars := len(sub) > 1
		for _, s := range sub {
			if !strings.HasSuffix(strings.ToLower(strings.TrimSpace(s)), ".tar") {
				tars = false
			}
		}
		if tars {
			for _, s := range sub {
				parts = append(parts, strings.TrimSpace(s))
			}
		} else {
			parts = append(parts, p)
		}
	}
	return parts
}

// recordSettings returns run.json for o (after defaults) trained on ranks
// data-parallel ranks.
func (o *Options) recordSettings(ranks int) []byte {
	m := map[string]any{"ranks": ranks}
	for _, s := range o.settings() {
		m[s.name] = reflect.ValueOf(s.ptr).Elem().Interface()
	}
	b, _ := json.MarshalIndent(struct {
		Format   string         `json:"format"`
		Settings map[string]any `json:"settings"`
	}{runFormat, m}, "", "  ")
	return append(b, '\n')
}

// readRunSettings reads dir's run.json; ok is false when there is none.
func readRunSettings(dir string) (rec map[string]json.RawMessage, ok bool, err error) {
	path := filepath.Join(dir, runFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("train: %w", err)
	}
	var f struct {
		Format   string                     `json:"format"`
		Settings map[string]json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("train: %s: %v", path, err)
	}
	if f.Format != runFormat {
		return nil, false, fmt.Errorf("train: %s: format %q, want %q", path, f.Format, runFormat)
	}
	return f.Settings, true, nil
}

// restore fills o's unset settings from a run's recorded ones and refuses a
// strict setting set to another value. Restored settings count as set
// (Explicit), so that defaults leave them alone. The batch is compared as
// the global batch (per-rank batch × ranks), so a run may resume on another
// number of data-parallel ranks (world) with the same global batch.
func (o *Options) restore(rec map[string]json.RawMessage, path string, world int) error {
	var conflicts []string
	if _, ok := rec["precision"]; !ok {
		// Runs recorded before the setting existed took float32 products.
		rec["precision"] = json.RawMessage(`"f32"`)
	}
	if raw, ok := rec["batch"]; ok {
		var batch, ranks int
		ranks = 1
		if err := json.Unmarshal(raw, &batch); err != nil {
			return fmt.Errorf("train: %s: setting \"batch\": %v", path, err)
		}
		if r, ok := rec["ranks"]; ok {
			if err := json.Unmarshal(r, &ranks); err != nil || ranks < 1 {
				return fmt.Errorf("train: %s: setting \"ranks\": %s", path, r)
			}
		}
		global := batch * ranks
		switch {
		case o.isSet("batch") && o.BatchSize*world != global:
			conflicts = append(conflicts, fmt.Sprintf("--batch %d on %d rank(s) (the run's global batch is %d × %d = %d)", o.BatchSize, world, batch, ranks, global))
		case !o.isSet("batch") && global%world != 0:
			return fmt.Errorf("train: --resume: the run's global batch %d × %d = %d does not divide among %d ranks", batch, ranks, global, world)
		case !o.isSet("batch"):
			o.BatchSize = global / world
			o.Explicit["batch"] = true
		}
	}
	for _, s := range o.settings() {
		raw, ok := rec[s.name]
		if !ok || s.name == "batch" {
			continue
		}
		cur := reflect.ValueOf(s.ptr).Elem()
		was := reflect.New(cur.Type())
		if err := json.Unmarshal(raw, was.Interface()); err != nil {
			return fmt.Errorf("train: %s: setting %q: %v", path, s.name, err)
		}
		if o.isSet(s.name) {
			if s.strict && !reflect.DeepEqual(cur.Interface(), was.Elem().Interface()) {
				conflicts = append(conflicts, fmt.Sprintf("--%s %s (the run's is %s)", s.name, show(cur.Interface()), show(was.Elem().Interface())))
			}
			continue
		}
		cur.Set(was.Elem())
		o.Explicit[s.name] = true
	}
	if len(conflicts) > 0 {
		verb := "differs"
		if len(conflicts) > 1 {
			verb = "differ"
		}
		return fmt.Errorf("train: --resume: %s %s from the settings the run in %s was started with (%s): a resumed run keeps them; drop the flag%s, or start a new run in another --out (--init can start it from this run's model)",
			strings.Join(conflicts, ", "), verb, o.Out, path, plural(len(conflicts)))
	}
	return nil
}

func show(v any) string {
	if s, ok := v.(string); ok {
		if s == "" {
			return `""`
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
