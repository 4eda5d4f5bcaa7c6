package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TSVOptions configures OpenTSV.
type TSVOptions struct {
	// Sep is the field separator (open_clip's csv_separator). Default: a tab;
	// for a file named *.csv, a tab when its first line holds one (open_clip
	// writes and reads tab-separated .csv files) and a comma otherwise.
	// Tab-separated lines are split on tabs with no quoting; other separators
	// are read as CSV (quoted fields, "" escapes). ParseSeparator reads the
	// spellings a command line gives.
	Sep rune
	// ImageKey and CaptionKey are the header names of the image path and caption
	// columns (open_clip's csv_img_key and csv_caption_key); default "filepath"
	// and "title". When the first line holds both names it is the header;
	// otherwise the file has no header and the columns are image path, caption.
	// When either key is given, the file must have a header holding both: a
	// missing column is an error naming the header's columns.
	ImageKey, CaptionKey string
	// SkipBad drops bad lines (too few fields, empty caption, missing image)
	// when the file is opened and counts them (Skipped) instead of failing.
	SkipBad bool
	// NoStat skips checking that every image exists when the file is opened; a
	// missing image then fails when the item is loaded.
	NoStat bool
	// Image configures decoding (the pixel limit).
	Image ImageOptions
}

// TSVDataset is a captions file in the form of open_clip's CsvDataset: one
// image path and caption per line, paths relative to the file's directory.
type TSVDataset struct {
	path  string
	opts  TSVOptions
	items []fileItem
	skips SkipLog
}

// fileItem is an image file and its caption; where names its origin for errors
// ("captions.tsv:12", "captions_val.json: annotations[3]").
type fileItem struct {
	path    string
	caption string
	where   string
}

// OpenTSV reads a captions file. Errors name the file and line:
// "data: train.tsv:3: image photos/a.jpg: stat ...: no such file or directory".
func OpenTSV(path string, opts TSVOptions) (*TSVDataset, error) {
	keysGiven := opts.ImageKey != "" || opts.CaptionKey != ""
	if opts.ImageKey == "" {
		opts.ImageKey = "filepath"
	}
	if opts.CaptionKey == "" {
		opts.CaptionKey = "title"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: captions file: %w", err)
	}
	defer f.Close()
	// A UTF-8 byte-order mark (Windows editors write one) is not data.
	br := bufio.NewReaderSize(f, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		br.Discard(3)
	}
	if opts.Sep == 0 {
		opts.Sep = '\t'
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			opts.Sep = sniffSeparator(br)
		}
	}
	d := &TSVDataset{path: path, opts: opts}
	dir := filepath.Dir(path)
	imgCol, capCol := 0, 1
	first := true
	err = readRecords(br, path, opts.Sep, func(line int, rec []string) error {
		if first {
			first = false
			ic, cc := -1, -1
			for k, name := range rec {
				name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
				switch name {
				case opts.ImageKey:
					ic = k
				case opts.CaptionKey:
					cc = k
				}
			}
			if ic >= 0 && cc >= 0 {
				imgCol, capCol = ic, cc
				return nil
			}
			if keysGiven {
				return missingColumns(path, line, rec, opts, ic, cc)
			}
		}
		where := fmt.Sprintf("%s:%d", path, line)
		if len(rec) <= max(imgCol, capCol) {
			return badEntry(&d.skips, opts.SkipBad,
				fmt.Errorf("data: %s: %d field(s), want at least %d (image path, caption)", where, len(rec), max(imgCol, capCol)+1))
		}
		rel := strings.TrimSpace(rec[imgCol])
		caption := strings.TrimSpace(rec[capCol])
		if rel == "" {
			return badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: empty image path", where))
		}
		if caption == "" {
			return badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: image %s: empty caption", where, rel))
		}
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if !opts.NoStat {
			if err := statImage(p); err != nil {
				return badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: image %s: %w", where, rel, err))
			}
		}
		d.items = append(d.items, fileItem{path: p, caption: caption, where: where})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(d.items) == 0 {
		return nil, fmt.Errorf("data: %s: no image–caption lines%s", path, d.skips.suffix())
	}
	return d, nil
}

// sniffSeparator picks the separator of a .csv file from its first non-blank
// line (at most 64 KiB are looked at): a tab when the line holds one, else a
// comma.
func sniffSeparator(in *bufio.Reader) rune {
	head, _ := in.Peek(64 << 10)
	for _, line := range strings.Split(string(head), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.ContainsRune(line, '\t') {
			return '\t'
		}
		return ','
	}
	return ','
}

// missingColumns is the error for a header that lacks a column asked for.
func missingColumns(path string, line int, rec []string, opts TSVOptions, ic, cc int) error {
	var missing []string
	if ic < 0 {
		missing = append(missing, fmt.Sprintf("image column %q", opts.ImageKey))
	}
	if cc < 0 {
		missing = append(missing, fmt.Sprintf("caption column %q", opts.CaptionKey))
	}
	cols := make([]string, len(rec))
	for k, c := range rec {
		cols[k] = strconv.Quote(strings.TrimSpace(c))
	}
	return fmt.Errorf("data: %s:%d: no %s in the header (columns, split on %s: %s)",
		path, line, strings.Join(missing, " and no "), separatorName(opts.Sep), strings.Join(cols, ", "))
}

// ParseSeparator reads a captions-file separator as a command line gives it
// (open_clip's --csv-separator): a single character, or "\t", "tab",
// "comma", "semicolon", "pipe", "space".
func ParseSeparator(s string) (rune, error) {
	switch strings.ToLower(s) {
	case `\t`, "tab":
		return '\t', nil
	case "comma":
		return ',', nil
	case "semicolon":
		return ';', nil
	case "pipe":
		return '|', nil
	case "space":
		return ' ', nil
	}
	r := []rune(s)
	if len(r) != 1 {
		return 0, fmt.Errorf("separator %q: want one character, \\t, tab, comma, semicolon, pipe or space", s)
	}
	if r[0] == '"' || r[0] == '\r' || r[0] == '\n' || r[0] == utf8.RuneError {
		return 0, fmt.Errorf("separator %q cannot separate fields", s)
	}
	return r[0], nil
}

// separatorName names a separator in messages.
func separatorName(sep rune) string {
	switch sep {
	case '\t':
		return "tabs"
	case ',':
		return "commas"
	}
	return strconv.QuoteRune(sep)
}

// statImage checks that p is a regular file.
func statImage(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}

// readRecords calls fn with the 1-based line number and fields of every
// non-blank record of r; name is used in read errors.
func readRecords(r io.Reader, name string, sep rune, fn func(line int, rec []string) error) error {
	if sep == '\t' {
		br := bufio.NewReader(r)
		for line := 1; ; line++ {
			s, err := br.ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("data: %s:%d: %w", name, line, err)
			}
			s = strings.TrimRight(s, "\r\n")
			if strings.TrimSpace(s) != "" {
				if ferr := fn(line, strings.Split(s, "\t")); ferr != nil {
					return ferr
				}
			}
			if err != nil {
				return nil
			}
		}
	}
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("data: %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if err := fn(line, rec); err != nil {
			return err
		}
	}
}

// Len returns the number of pairs.
func (d *TSVDataset) Len() int { return len(d.items) }

// Path returns the image path of pair i.
func (d *TSVDataset) Path(i int) string { return d.items[i].path }

// Caption returns the caption of pair i.
func (d *TSVDataset) Caption(i int) string { return d.items[i].caption }

// Skipped returns the log of the lines skipped under SkipBad.
func (d *TSVDataset) Skipped() *SkipLog { return &d.skips }

// Item loads pair i; errors name the captions file and line.
func (d *TSVDataset) Item(i int) (image.Image, string, error) {
	return d.items[i].load(d.opts.Image)
}

func (it *fileItem) load(o ImageOptions) (image.Image, string, error) {
	img, err := o.Load(it.path)
	if err != nil {
		return nil, "", fmt.Errorf("data: %s: %w", it.where, err)
	}
	return img, it.caption, nil
}
