package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/gococa/gococa/data"
)

// stdin is the standard input of --files-from - (tests replace it).
var stdin io.Reader = os.Stdin

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// imageFlags are the flags of every command that reads images.
type imageFlags struct {
	recursive bool
	filesFrom string
	skipBad   bool

	cmd     string    // the command, for notes
	log     io.Writer // notes: skipped and ignored files
	skipped []string  // images skipped with --skip-bad
	listed  int       // images named or found, skipped ones included
}

func addImageFlags(fs *flag.FlagSet, cmd string) *imageFlags {
	f := &imageFlags{cmd: cmd, log: fs.Output()}
	fs.BoolVar(&f.recursive, "r", false, "read directories recursively (default: the image files directly inside)")
	fs.BoolVar(&f.recursive, "recursive", false, "same as -r")
	fs.StringVar(&f.filesFrom, "files-from", "", "read image paths (or directories), one per line, from this file; - reads standard input")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "skip images that cannot be read (each named on standard error, counted at the end) instead of stopping at the first")
	return f
}

// collect expands the arguments and --files-from into image paths:
// directories become their image files (sorted; recursively with -r),
// files are taken as named. Only regular files are read as images: a
// directory's other entries (FIFOs, devices, sockets) are left out with a
// note on log; a named one is an error, or skipped with --skip-bad.
func (f *imageFlags) collect(args []string) ([]string, error) {
	if f.filesFrom != "" {
		lines, err := readPathList(f.filesFrom)
		if err != nil {
			return nil, err
		}
		args = append(append([]string(nil), args...), lines...)
	}
	if len(args) == 0 {
		return nil, usagef("no images (give files, directories or --files-from)")
	}
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = errors.New("no such file or directory")
			}
			if f.skipBad {
				f.skip(a, fmt.Errorf("image %s: %w", a, err))
				continue
			}
			return nil, fmt.Errorf("image %s: %w", a, err)
		}
		switch {
		case st.Mode().IsRegular():
			out = append(out, a)
		case st.IsDir():
			found, err := f.listDir(a)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
		default:
			err := fmt.Errorf("image %s: not a regular file", a)
			if f.skipBad {
				f.skip(a, err)
				continue
			}
			return nil, err
		}
	}
	f.listed = len(out) + len(f.skipped)
	if len(out) == 0 {
		return nil, errors.New("no images to read")
	}
	return out, nil
}

// skip notes an image skipped under --skip-bad.
func (f *imageFlags) skip(path string, err error) {
	fmt.Fprintf(f.log, "coca %s: skipping %s: %s\n", f.cmd, termSafe(path), termSafe(err.Error()))
	f.skipped = append(f.skipped, path)
}

// summary reports how many images were skipped (each was named when it
// was).
func (f *imageFlags) summary() {
	if n := len(f.skipped); n > 0 {
		fmt.Fprintf(f.log, "coca %s: skipped %d of %d images (unreadable; --skip-bad)\n", f.cmd, n, f.listed)
	}
}

// listDir returns the image files of dir (recursively with -r), sorted.
func (f *imageFlags) listDir(dir string) ([]string, error) {
	var found []string
	add := func(path string, d fs.DirEntry) {
		if !imageExts[strings.ToLower(filepath.Ext(d.Name()))] {
			return
		}
		// A symbolic link counts when it leads to a regular file.
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() {
			if err == nil && !st.IsDir() {
				fmt.Fprintf(f.log, "coca %s: ignoring %s: not a regular file\n", f.cmd, termSafe(path))
			}
			return
		}
		found = append(found, path)
	}
	if f.recursive {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("image directory %s: %w", path, err)
			}
			if !d.IsDir() {
				add(path, d)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("image directory %s: %w", dir, err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				add(filepath.Join(dir, e.Name()), e)
			}
		}
	}
	if len(found) == 0 {
		hint := ""
		if !f.recursive {
			hint = "; -r reads its subdirectories"
		}
		return nil, fmt.Errorf("image directory %s: no image files (%s)%s", dir, strings.Join(sortedExts(), ", "), hint)
	}
	sort.Strings(found)
	return found, nil
}

// readPathList reads one path per line (empty lines skipped, a trailing
// carriage return dropped) from a file, or standard input for "-".
func readPathList(name string) ([]string, error) {
	var r io.Reader = stdin
	what := "standard input"
	if name != "-" {
		st, err := os.Stat(name)
		if err == nil && !st.Mode().IsRegular() && st.Mode()&fs.ModeNamedPipe == 0 {
			return nil, fmt.Errorf("--files-from %s: not a regular file", name)
		}
		file, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %w", err)
		}
		defer file.Close()
		r, what = file, name
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--files-from %s: %w", what, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--files-from %s: no paths", what)
	}
	return out, nil
}

func sortedExts() []string {
	var e []string
	for k := range imageExts {
		e = append(e, k)
	}
	sort.Strings(e)
	return e
}

// decodeImages reads and decodes paths in parallel. errs[i] is set, naming
// the file, where image i could not be read.
func decodeImages(paths []string) (imgs []image.Image, errs []error) {
	imgs = make([]image.Image, len(paths))
	errs = make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(paths)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				imgs[i], errs[i] = loadImage(paths[i])
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return imgs, errs
}

// loadImage decodes one image file; only a regular file is opened.
func loadImage(path string) (image.Image, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image %s: not a regular file", path)
	}
	img, err := data.LoadImage(path)
	if err != nil && !strings.Contains(err.Error(), path) {
		err = fmt.Errorf("image %s: %w", path, err)
	}
	return img, err
}

// eachBatch walks paths a batch at a time, decoding each batch in
// parallel, and hands do the paths and images of the readable ones.
// Unreadable images are skipped with a note under --skip-bad; otherwise
// the images before the first unreadable one still go to do, and then
// its error is returned, so that nothing read before it is lost. prog
// counts every image.
func (f *imageFlags) eachBatch(paths []string, batch int, prog *progress, do func(paths []string, imgs []image.Image) error) error {
	for b0 := 0; b0 < len(paths); b0 += batch {
		group := paths[b0:min(b0+batch, len(paths))]
		imgs, errs := decodeImages(group)
		var okPaths []string
		var okImgs []image.Image
		var firstErr error
		for i, err := range errs {
			if err != nil {
				if !f.skipBad {
					firstErr = err
					break
				}
				prog.clear()
				f.skip(group[i], err)
				continue
			}
			okPaths, okImgs = append(okPaths, group[i]), append(okImgs, imgs[i])
		}
		if len(okImgs) > 0 {
			if err := do(okPaths, okImgs); err != nil {
				prog.clear()
				return err
			}
		}
		if firstErr != nil {
			prog.clear()
			return firstErr
		}
		prog.update(b0 + len(group))
	}
	prog.clear()
	return nil
}
