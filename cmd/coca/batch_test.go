package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
)

// photoTree copies real photos into a tree: dir/grey.jpg, dir/a/cat.png,
// dir/a/b/cat_q90.jpg, dir/c/text.png, and a text file that is not an image.
func photoTree(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string]string{
		"grey.jpg":        "../../data/testdata/variants/grey.jpg",
		"a/cat.png":       "../../data/testdata/chelsea.png",
		"a/b/cat_q90.jpg": "../../data/testdata/variants/chelsea_q90.jpg",
		"c/text.png":      "../../data/testdata/text.png",
	}
	var out []string
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, dst)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	os.WriteFile(filepath.Join(dir, "a", "notes.md"), []byte("not an image"), 0o644)
	slices.Sort(out)
	return out
}

// captionLines parses PATH<TAB>CAPTION lines.
func captionLines(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		p, c, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("line %q has no tab", l)
		}
		m[p] = c
	}
	return m
}

// TestCaptionWriteTxtRecursive captions a tree of real photos with
// --write-txt -r: one .txt per image holding its caption, no carriage
// returns in the piped progress, existing files refused unless
// --overwrite.
func TestCaptionWriteTxtRecursive(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, t.TempDir())
	tree := filepath.Join(dir, "photos")
	images := photoTree(t, tree)
	args := []string{"caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "8", "--batch", "2", "--write-txt", "-r", tree}
	code, out, errs := runCmd(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := captionLines(t, out)
	if len(lines) != len(images) {
		t.Fatalf("%d lines for %d images:\n%s", len(lines), len(images), out)
	}
	for _, img := range images {
		txt := strings.TrimSuffix(img, filepath.Ext(img)) + ".txt"
		b, err := os.ReadFile(txt)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), strings.Join(strings.Fields(lines[img]), " ")+"\n"; got != want || len(want) < 2 {
			t.Errorf("%s: %q, caption %q", txt, got, want)
		}
	}
	if strings.Contains(errs, "\r") || !strings.Contains(errs, "caption: 4/4 images") {
		t.Errorf("progress on a pipe: %q", errs)
	}
	// Again: the .txt files exist; nothing is captioned or changed.
	before, _ := os.ReadFile(filepath.Join(tree, "grey.txt"))
	os.WriteFile(filepath.Join(tree, "grey.txt"), []byte("my own caption\n"), 0o644)
	code, out, errs = runCmd(args...)
	if code != 1 || out != "" || !strings.Contains(errs, "exists (and 3 more caption files): nothing was captioned; --overwrite replaces them") {
		t.Fatalf("existing captions: exit %d, %q %q", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "grey.txt")); string(b) != "my own caption\n" {
		t.Fatalf("grey.txt changed: %q", b)
	}
	if code, _, errs := runCmd(append(args, "--overwrite")...); code != 0 {
		t.Fatalf("--overwrite: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "grey.txt")); !bytes.Equal(b, before) {
		t.Fatalf("grey.txt after --overwrite: %q, want %q", b, before)
	}
	// Without -r: the images directly inside.
	code, out, _ = runCmd("caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "8", tree)
	if code != 0 || len(captionLines(t, out)) != 1 || !strings.HasPrefix(out, filepath.Join(tree, "grey.jpg")+"\t") {
		t.Fatalf("not recursive: exit %d, %q", code, out)
	}
	// Two images that would write one .txt.
	os.WriteFile(filepath.Join(tree, "grey.png"), nil, 0o644)
	if code, _, errs := runCmd("caption", "--checkpoint", ckpt, "--write-txt", "--overwrite", tree); code != 1 || !strings.Contains(errs, "would both write") {
		t.Fatalf("colliding .txt: exit %d, %q", code, errs)
	}
}

// TestCaptionFilesFrom reads image paths from a file and from standard
// input.
func TestCaptionFilesFrom(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 3)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(paths[2]+"\r\n\n"+paths[0]+"\n"), 0o644)
	base := []string{"caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "6"}
	code, out, errs := runCmd(append(base, "--files-from", list, paths[1])...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		p, _, _ := strings.Cut(l, "\t")
		order = append(order, p)
	}
	if !slices.Equal(order, []string{paths[1], paths[2], paths[0]}) {
		t.Fatalf("order %v", order)
	}
	stdin = strings.NewReader(paths[1] + "\n")
	defer func() { stdin = os.Stdin }()
	code, out, errs = runCmd(append(base, "--files-from", "-")...)
	if code != 0 || !strings.HasPrefix(out, paths[1]+"\t") || strings.Count(out, "\n") != 1 {
		t.Fatalf("standard input: exit %d: %q %s", code, out, errs)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("\n\n"), 0o644)
	if code, _, errs := runCmd(append(base, "--files-from", empty)...); code != 1 || !strings.Contains(errs, "no paths") {
		t.Fatalf("empty list: exit %d, %q", code, errs)
	}
}

// TestSkipBad checks unreadable images: without --skip-bad, the images
// before the bad one are still captioned and the error names it; with it,
// every readable image is captioned and each skipped one is named and
// counted once. A FIFO named like an image is never opened.
func TestSkipBad(t *testing.T) {
	dir := t.TempDir()
	ckpt, m := clipVocabModel(t, t.TempDir())
	paths := writeImages(t, dir, 3)
	bad := filepath.Join(dir, "img1b.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	fifo := filepath.Join(dir, "pipe.jpg")
	haveFIFO := mkfifo(t, fifo)
	base := []string{"caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "6", "--batch", "8"}

	done := make(chan struct{})
	go func() {
		defer close(done)
		code, out, errs := runCmd(append(base, paths[0], bad, paths[1])...)
		if code != 1 || !strings.Contains(errs, bad) || out == "" || !strings.HasPrefix(out, paths[0]+"\t") || strings.Count(out, "\n") != 1 {
			t.Errorf("without --skip-bad: exit %d, %q, %q", code, out, errs)
		}
		code, out, errs = runCmd(append(base, "--skip-bad", paths[0], bad, paths[1], filepath.Join(dir, "gone.png"))...)
		got := captionLines(t, out)
		if code != 0 || len(got) != 2 || got[paths[1]] == "" || !strings.Contains(errs, "skipping "+bad) ||
			!strings.Contains(errs, "skipped 2 of 4 images") || strings.Count(errs, "skipping") != 2 {
			t.Errorf("--skip-bad: exit %d, %q, %q", code, out, errs)
		}
		// The directory: the FIFO is left out, the bad file skipped.
		code, out, errs = runCmd(append(base, "--skip-bad", dir)...)
		if code != 0 || len(captionLines(t, out)) != 3 || !strings.Contains(errs, "skipped 1 of 4 images") ||
			(haveFIFO && !strings.Contains(errs, "ignoring "+fifo+": not a regular file")) {
			t.Errorf("directory with --skip-bad: exit %d, %q, %q", code, out, errs)
		}
		if haveFIFO {
			code, _, errs = runCmd(append(base, fifo)...)
			if code != 1 || !strings.Contains(errs, fifo+": not a regular file") {
				t.Errorf("a FIFO named on the command line: exit %d, %q", code, errs)
			}
		}
		// embed and zeroshot skip the same way; the index lists the rest.
		index := filepath.Join(t.TempDir(), "i.safetensors")
		code, _, errs = runCmd("embed", "--checkpoint", ckpt, "--skip-bad", "--out", index, dir)
		if code != 0 || !strings.Contains(errs, "skipped 1 of 4 images") || !strings.Contains(errs, "3 image and 0 text embeddings") {
			t.Errorf("embed --skip-bad: exit %d, %q", code, errs)
		}
		classes := filepath.Join(t.TempDir(), "c.txt")
		os.WriteFile(classes, []byte("cat\ndog\n"), 0o644)
		code, out, errs = runCmd("zeroshot", "--checkpoint", ckpt, "--classes", classes, "--skip-bad", "--top", "1", paths[2], bad)
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(errs, "skipped 1 of 2 images") {
			t.Errorf("zeroshot --skip-bad: exit %d, %q %q", code, out, errs)
		}
		_ = m
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("a command hung (reading the FIFO?)")
	}
}

// TestCaptionNBestScoresEmbeddings compares n-best captions, their
// log-likelihoods and the embeddings in the JSON lines with the library.
func TestCaptionNBestScoresEmbeddings(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 2)
	code, out, errs := runCmd("caption", "--checkpoint", ckpt, "--beams", "3", "--beam-groups", "1", "--n", "3", "--max-len", "8", "--score", "--embed", "--json", paths[0], paths[1])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	p, err := coca.Open(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, path := range paths {
		img, _ := data.LoadImage(path)
		imgs = append(imgs, img)
	}
	o := coca.GenerateOptions{Strategy: "beam", Beams: 3, BeamGroups: 1, MaxLen: 8, MinLen: 5, LengthPenalty: 1, TopK: 1, TopP: 0.1, Temperature: 1, RepetitionPenalty: 1}
	want, err := p.CaptionBatch(context.Background(), imgs, coca.WithGenerateOptions(o), coca.WithNBest(3), coca.WithLogProb(), coca.WithEmbedding())
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var got jsonCaptions
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if got.Image != paths[i] || len(got.Captions) != 3 || got.Caption != w.Captions[0].Text || !slices.Equal(got.Embedding, w.Embedding) || len(got.Embedding) != 32 {
			t.Fatalf("image %d: %s", i, l)
		}
		for k, c := range got.Captions {
			if c.Caption != w.Captions[k].Text || !slices.Equal(c.Tokens, w.Captions[k].Tokens) || c.LogProb == nil || *c.LogProb != w.Captions[k].LogProb {
				t.Fatalf("image %d caption %d: %+v, want %+v", i, k, c, w.Captions[k])
			}
		}
	}
	// Plain output: PATH, RANK, LOGPROB, CAPTION.
	code, out, _ = runCmd("caption", "--checkpoint", ckpt, "--beams", "3", "--beam-groups", "1", "--n", "2", "--max-len", "8", "--score", paths[0])
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d: %q", code, out)
	}
	for k, l := range lines {
		want := fmt.Sprintf("%s\t%d\t%.4f\t%s", paths[0], k+1, want[0].Captions[k].LogProb, want[0].Captions[k].Text)
		if l != want {
			t.Errorf("line %q, want %q", l, want)
		}
	}
}

// TestUsageErrors checks that bad flags and values exit with status 2 and
// one message.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	paths := writeImages(t, dir, 1)
	tiny := append(append([]string{}, tinyFlags...), "--start", "62", "--end", "63")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"caption", "--bogus", paths[0]}, "flag provided but not defined: -bogus"},
		{[]string{"train", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"verify", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"embed", "--batch", "x", "--out", "e.jsonl", paths[0]}, "invalid value"},
		{append(append([]string{"caption"}, tiny...), "--beams", "0", paths[0]), "--beams 0: want at least 1"},
		{append(append([]string{"caption"}, tiny...), "--temperature", "0", paths[0]), "--temperature 0: want a number above 0"},
		{append(append([]string{"caption"}, tiny...), "--min-len", "9", "--max-len", "8", paths[0]), "--min-len 9 must be below --max-len 8"},
		{append(append([]string{"caption"}, tiny...), "--top-p", "0", paths[0]), "--top-p 0"},
		{append(append([]string{"caption"}, tiny...), "--strategy", "nucleus", paths[0]), `--strategy "nucleus"`},
		{append(append([]string{"caption"}, tiny...), "--strategy", "greedy", "--n", "2", paths[0]), "greedy decoding makes one caption"},
		{append(append([]string{"caption"}, tiny...), "--n", "7", paths[0]), "--n 7 is more than the 2 beams of one search (--beams 6 / --beam-groups 3)"},
		{append(append([]string{"caption"}, tiny...), "--embed", paths[0]), "add --json"},
		{append(append([]string{"caption"}, tiny...), "--weights", "f8", paths[0]), `--weights "f8"`},
		{append(append([]string{"caption"}, tiny...), "--beams", "4", paths[0]), "--beam-groups 3: want at least 1, dividing --beams 4"},
		{[]string{"caption", "--checkpoint", tinyWeights, "--pretrained", "laion2b_s13b_b90k", paths[0]}, "give one"},
		{[]string{"caption", paths[0]}, "--checkpoint (a file or folder) or --pretrained"},
		{append(append([]string{"embed"}, tinyFlags...), "--out", filepath.Join(dir, "e.npy"), paths[0]), "want a .safetensors or .jsonl file"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		code, out, errs := runCmd(c.args...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q, want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// TestTerminalEscaping checks that strings from files reach standard
// output and error with their control characters escaped, and JSON
// output with every terminal control written as an escape.
func TestTerminalEscaping(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, t.TempDir())
	src := writeImages(t, t.TempDir(), 1)[0]
	b, _ := os.ReadFile(src)
	evil := filepath.Join(dir, "x\x1b]0;owned\x07\u009b31m.png")
	if err := os.WriteFile(evil, b, 0o644); err != nil {
		t.Skipf("file names with control characters: %v", err)
	}
	code, out, errs := runCmd("caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "6", dir)
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\u009b") || !strings.Contains(out, `x\x1b]0;owned\a\u009b31m.png`+"\t") {
		t.Errorf("plain output: exit %d, %q %s", code, out, errs)
	}
	code, out, _ = runCmd("caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "6", "--json", dir)
	var line struct{ Image string }
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\u009b") || json.Unmarshal([]byte(out), &line) != nil || line.Image != evil {
		t.Errorf("JSON output: exit %d, %q", code, out)
	}
	classes := filepath.Join(dir, "classes.txt")
	os.WriteFile(classes, []byte("cat\x1b[2J\ndog\n"), 0o644)
	code, out, _ = runCmd("zeroshot", "--checkpoint", ckpt, "--classes", classes, "--templates", writeTemplates(t), "--top", "2", evil)
	if code != 0 || strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `cat\x1b[2J`) {
		t.Errorf("zeroshot: exit %d, %q", code, out)
	}
	code, _, errs = runCmd("caption", "--checkpoint", ckpt, filepath.Join(dir, "gone\x1b[31m.png"))
	if code != 1 || strings.ContainsRune(errs, 0x1b) || !strings.Contains(errs, `gone\x1b[31m.png`) {
		t.Errorf("error message: exit %d, %q", code, errs)
	}
	// Index texts.
	texts := filepath.Join(dir, "texts.txt")
	os.WriteFile(texts, []byte("a \x1b]2;title\x07 caption\n"), 0o644)
	index := filepath.Join(dir, "index.safetensors")
	if code, _, errs := runCmd("embed", "--checkpoint", ckpt, "--texts", texts, "--out", index); code != 0 {
		t.Fatalf("embed: %d %s", code, errs)
	}
	code, out, _ = runCmd("retrieve", "--checkpoint", ckpt, "--index", index, "--image", evil)
	if code != 0 || strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `a \x1b]2;title\a caption`) {
		t.Errorf("retrieve: exit %d, %q", code, out)
	}
	for _, c := range []struct{ in, want string }{
		{"plain ünïcode\\path", "plain ünïcode\\path"},
		{"tab\tnew\nline", `tab\tnew\nline`},
		{"bad\xffbyte\x7f", `bad\xffbyte\x7f`},
	} {
		if got := termSafe(c.in); got != c.want {
			t.Errorf("termSafe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func writeTemplates(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "templates.txt")
	os.WriteFile(p, []byte("a photo of a {}.\n"), 0o644)
	return p
}

// TestVersion checks coca version with and without VCS information.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCmd(args...)
		if code != 0 || !strings.HasPrefix(out, "coca ") || errs != "" {
			t.Errorf("%v: exit %d, %q %q", args, code, out, errs)
		}
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/gococa/gococa", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "8bc55a1"}, {Key: "vcs.time", Value: "2025-12-05T09:00:00Z"},
			{Key: "vcs.modified", Value: "true"}, {Key: "-tags", Value: "purego"}, {Key: "CGO_ENABLED", Value: "0"}}}
	got := versionText(info, true)
	for _, w := range []string{"coca v0.3.0 go1.26.0 ", "module github.com/gococa/gococa\n", "revision 8bc55a1 (2025-12-05T09:00:00Z) with uncommitted changes\n", "build -tags=purego CGO_ENABLED=0\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("version text %q lacks %q", got, w)
		}
	}
	info.Settings = nil
	if got := versionText(info, true); !strings.Contains(got, "-buildvcs=false") {
		t.Errorf("without VCS information: %q", got)
	}
}

// TestPretrainedFlag resolves --pretrained in a hub cache: absent, the
// error says what to download; present, the file is read (here the tiny
// fixture, which is not coca_ViT-B-32, so the error names its config).
func TestPretrainedFlag(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	dir := t.TempDir()
	paths := writeImages(t, dir, 1)
	code, _, errs := runCmd("caption", "--pretrained", "coca_ViT-B-32:laion2b_s13b_b90k", paths[0])
	if code != 1 || !strings.Contains(errs, "huggingface-cli download laion/CoCa-ViT-B-32-laion2B-s13B-b90k open_clip_pytorch_model.bin") {
		t.Fatalf("absent: exit %d, %q", code, errs)
	}
	snap := filepath.Join(cache, "models--laion--CoCa-ViT-B-32-laion2B-s13B-b90k", "snapshots", "abc")
	os.MkdirAll(snap, 0o755)
	b, _ := os.ReadFile(tinyF16Bin)
	os.WriteFile(filepath.Join(snap, "open_clip_pytorch_model.bin"), b, 0o644)
	code, _, errs = runCmd("caption", "--config", "coca_ViT-B-32", "--pretrained", "laion2b_s13b_b90k", paths[0])
	if code != 1 || !strings.Contains(errs, snap) || !strings.Contains(errs, "(config coca_ViT-B-32); its tensor shapes are those of the built-in config coca_tiny") {
		t.Fatalf("present: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd("caption", "--pretrained", "laion2b_s13b_b90k", paths[0]); code != 1 || !strings.Contains(errs, "name the model too") {
		t.Fatalf("ambiguous tag: exit %d, %q", code, errs)
	}
}

// TestProgressTerminal checks terminal detection (a pseudo-terminal is
// one; a pipe, a file and /dev/null are not) and that only a terminal gets
// carriage returns.
func TestProgressTerminal(t *testing.T) {
	pts := openPTY(t)
	if !isTerminal(pts) || !isTerminal(&cliOutput{w: pts}) {
		t.Error("a pseudo-terminal is not a terminal")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	null, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer null.Close()
	for _, f := range []*os.File{w, null} {
		if isTerminal(f) {
			t.Errorf("%s is a terminal", f.Name())
		}
	}
	var b bytes.Buffer
	p := newProgress(&b, "caption", 3, true)
	p.update(1)
	p.update(3)
	if b.String() != "" && (strings.Contains(b.String(), "\r") || !strings.Contains(b.String(), "caption: 3/3 images")) {
		t.Errorf("not a terminal: %q", b.String())
	}
	b.Reset()
	p = newProgress(&b, "caption", 3, true)
	p.tty = true
	p.update(1)
	p.update(3)
	if !strings.HasPrefix(b.String(), "\r\033[Kcaption [==========") || !strings.HasSuffix(b.String(), "\n") {
		t.Errorf("terminal: %q", b.String())
	}
}

// TestCaptionAttention writes heatmaps for each token of each caption and
// checks them against the library's maps.
func TestCaptionAttention(t *testing.T) {
	dir := t.TempDir()
	ckpt, _ := clipVocabModel(t, dir)
	paths := writeImages(t, dir, 2)
	out := filepath.Join(dir, "heat")
	code, stdout, errs := runCmd("caption", "--checkpoint", ckpt, "--strategy", "greedy", "--max-len", "6", "--json", "--attention", out, paths[0], paths[1])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	p, _ := coca.Open(ckpt)
	for i, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var c jsonCaptions
		json.Unmarshal([]byte(l), &c)
		b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("img%d", i), "attention.json"))
		if err != nil {
			t.Fatal(err)
		}
		var idx attentionIndex
		if err := json.Unmarshal(b, &idx); err != nil {
			t.Fatal(err)
		}
		img, _ := data.LoadImage(paths[i])
		want, err := p.CrossAttention(context.Background(), img, c.Tokens)
		if err != nil {
			t.Fatal(err)
		}
		if idx.Image != paths[i] || idx.Caption != c.Caption || idx.Grid != 4 || len(idx.Tokens) != len(c.Tokens)-1 {
			t.Fatalf("image %d: %s", i, b)
		}
		for j, tok := range idx.Tokens {
			if tok.ID != c.Tokens[j+1] || !slices.Equal(tok.Map, want.Maps[j]) {
				t.Fatalf("image %d token %d: %+v, want id %d map %v", i, j, tok, c.Tokens[j+1], want.Maps[j])
			}
			f, err := os.Open(filepath.Join(out, fmt.Sprintf("img%d", i), tok.File))
			if err != nil {
				t.Fatal(err)
			}
			pic, err := png.Decode(f)
			f.Close()
			if err != nil || pic.Bounds().Dx() != attentionSide || pic.Bounds().Dy() != attentionSide+16 {
				t.Fatalf("%s: %v %v", tok.File, err, pic.Bounds())
			}
		}
	}
	if code, _, errs := runCmd("caption", "--checkpoint", ckpt, "--weights", "bf16", "--attention", out, paths[0]); code != 2 || !strings.Contains(errs, "--weights bf16") {
		t.Errorf("--attention with bf16: exit %d, %q", code, errs)
	}
}
