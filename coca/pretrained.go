package coca

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Pretrained is one of open_clip's published CoCa checkpoints.
type Pretrained struct {
	Model string // open_clip model name, a built-in config: coca_ViT-B-32 or coca_ViT-L-14
	Tag   string // open_clip pretrained tag: laion2b_s13b_b90k or mscoco_finetuned_laion2b_s13b_b90k
	Repo  string // Hugging Face hub repository
}

// PretrainedCheckpoints are open_clip's pretrained CoCa weights
// (open_clip/pretrained.py, _coca_VITB32 and _coca_VITL14), all on the
// Hugging Face hub.
var PretrainedCheckpoints = []Pretrained{
	{"coca_ViT-B-32", "laion2b_s13b_b90k", "laion/CoCa-ViT-B-32-laion2B-s13B-b90k"},
	{"coca_ViT-B-32", "mscoco_finetuned_laion2b_s13b_b90k", "laion/mscoco_finetuned_CoCa-ViT-B-32-laion2B-s13B-b90k"},
	{"coca_ViT-L-14", "laion2b_s13b_b90k", "laion/CoCa-ViT-L-14-laion2B-s13B-b90k"},
	{"coca_ViT-L-14", "mscoco_finetuned_laion2b_s13b_b90k", "laion/mscoco_finetuned_CoCa-ViT-L-14-laion2B-s13B-b90k"},
}

// cleanTag normalises a pretrained tag as open_clip does (lower case, '-'
// as '_').
func cleanTag(tag string) string { return strings.ReplaceAll(strings.ToLower(tag), "-", "_") }

// LookupPretrained finds a published checkpoint. model may be empty when
// the tag names one checkpoint, or be given in tag as "MODEL:TAG" (open_clip's
// list_pretrained(as_str=True) form) or "MODEL/TAG". Tags are matched as
// open_clip matches them (case and '-' versus '_' ignored).
func LookupPretrained(model, tag string) (Pretrained, error) {
	if m, t, ok := strings.Cut(tag, ":"); ok {
		model, tag = m, t
	} else if m, t, ok := strings.Cut(tag, "/"); ok {
		model, tag = m, t
	}
	var hits []Pretrained
	for _, p := range PretrainedCheckpoints {
		if cleanTag(p.Tag) == cleanTag(tag) && (model == "" || strings.EqualFold(p.Model, model)) {
			hits = append(hits, p)
		}
	}
	switch {
	case len(hits) == 1:
		return hits[0], nil
	case len(hits) > 1:
		return Pretrained{}, fmt.Errorf("coca: pretrained %q is published for %s and %s: name the model too (e.g. %s:%s)", tag, hits[0].Model, hits[1].Model, hits[0].Model, hits[0].Tag)
	}
	var all []string
	for _, p := range PretrainedCheckpoints {
		all = append(all, p.Model+":"+p.Tag)
	}
	what := fmt.Sprintf("%q", tag)
	if model != "" {
		what = fmt.Sprintf("%q for %s", tag, model)
	}
	return Pretrained{}, fmt.Errorf("coca: no pretrained CoCa checkpoint %s (open_clip publishes %s)", what, strings.Join(all, ", "))
}

// HubCacheDir returns the Hugging Face hub cache: $HF_HUB_CACHE, else
// $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (the
// order huggingface_hub follows).
func HubCacheDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return d
		}
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "~"
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// hubRepoDir is a repository's folder in the hub cache.
func hubRepoDir(cache, repo string) string {
	return filepath.Join(cache, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

// Path returns the local snapshot folder of p in the hub cache (cache
// empty: HubCacheDir()) that holds its weights, without any network
// access. When the weights are not there, the error says what to download
// and where.
func (p Pretrained) Path(cache string) (string, error) {
	if cache == "" {
		cache = HubCacheDir()
	}
	repo := hubRepoDir(cache, p.Repo)
	snap, err := hubSnapshot(repo, HFSafetensorsFile, HFPyTorchFile)
	if err == nil {
		return snap, nil
	}
	return "", fmt.Errorf("coca: pretrained %s:%s: %s is not in the Hugging Face cache %s (looked in %s). Download it, with its config, into that cache:\n"+
		"  huggingface-cli download %s %s %s\n"+
		"or save https://huggingface.co/%s/resolve/main/%s anywhere and pass that file as the checkpoint (with the config %s)",
		p.Model, p.Tag, HFPyTorchFile, cache, filepath.Join(repo, "snapshots", "*"),
		p.Repo, HFPyTorchFile, HFConfigFile, p.Repo, HFPyTorchFile, p.Model)
}

// ResolvePretrained is LookupPretrained followed by Path in the default
// hub cache: the folder to give Open or OpenCheckpoint.
func ResolvePretrained(model, tag string) (string, error) {
	p, err := LookupPretrained(model, tag)
	if err != nil {
		return "", err
	}
	return p.Path("")
}

// hubSnapshot returns the snapshot folder of a hub cache repository folder
// that holds one of files: the revision refs/main names, else the most
// recently modified snapshot holding one.
func hubSnapshot(repo string, files ...string) (string, error) {
	has := func(dir string) bool {
		for _, f := range files {
			if isRegular(filepath.Join(dir, f)) {
				return true
			}
		}
		return false
	}
	if b, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err == nil {
		rev := strings.TrimSpace(string(b))
		if dir := filepath.Join(repo, "snapshots", rev); filepath.IsLocal(rev) && has(dir) {
			return dir, nil
		}
	}
	ents, err := os.ReadDir(filepath.Join(repo, "snapshots"))
	if err != nil {
		return "", fmt.Errorf("coca: %s: no snapshots: %w", repo, err)
	}
	type snap struct {
		dir string
		mod int64
	}
	var snaps []snap
	for _, e := range ents {
		dir := filepath.Join(repo, "snapshots", e.Name())
		if st, err := os.Stat(dir); err == nil && st.IsDir() && has(dir) {
			snaps = append(snaps, snap{dir, st.ModTime().UnixNano()})
		}
	}
	if len(snaps) == 0 {
		return "", fmt.Errorf("coca: %s: no snapshot holds %s", repo, strings.Join(files, " or "))
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].mod > snaps[j].mod })
	return snaps[0].dir, nil
}
