package data

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
)

// WebDatasetOptions configures OpenWebDataset.
type WebDatasetOptions struct {
	// SkipBad drops bad samples (no image or caption member, empty or malformed
	// caption) and the rest of a malformed or truncated shard when the shards
	// are indexed, counting them (Skipped) instead of failing.
	SkipBad bool
	// Image configures decoding (the pixel limit).
	Image ImageOptions
}

// Image and caption member extensions, in order of preference.
var (
	wdsImageExts   = []string{"jpg", "jpeg", "png", "webp"}
	wdsCaptionExts = []string{"txt", "json"}
)

// maxCaptionBytes bounds the caption member read into memory.
const maxCaptionBytes = 1 << 20

// WebDataset is a set of webdataset tar shards: the members of a shard are
// grouped into samples by key (the member name up to the first dot of its base
// name, as webdataset does), each sample an image member (.jpg, .jpeg, .png or
// .webp) and a caption (.txt, or .json with a "caption" field). The shards are
// indexed when opened; Item reads the image member at its recorded offset, so
// samples can be read in any order.
type WebDataset struct {
	shards  []string
	opts    WebDatasetOptions
	samples []wdsSample
	skips   SkipLog
}

type wdsSample struct {
	shard   int
	key     string
	member  string // image member name
	off     int64  // offset of the image data in the shard
	size    int64
	caption string
}

// wdsPending is a sample being assembled while a shard is indexed.
type wdsPending struct {
	key              string
	img, capt        string // member names
	imgRank, capRank int    // preference rank of the chosen member (lower wins)
	off, size        int64
	caption          string
	bad              bool
}

// OpenWebDataset indexes the tar shards (see ExpandShards for brace patterns).
// Errors name the shard and member: "data: shard train-0003.tar: member
// 000123.jpg: truncated: 512 of 20481 bytes present".
func OpenWebDataset(shards []string, opts WebDatasetOptions) (*WebDataset, error) {
	if len(shards) == 0 {
		return nil, errors.New("data: webdataset: no shards")
	}
	d := &WebDataset{shards: append([]string(nil), shards...), opts: opts}
	for si, p := range d.shards {
		if err := d.indexShard(si, p); err != nil {
			return nil, err
		}
	}
	if len(d.samples) == 0 {
		return nil, fmt.Errorf("data: webdataset %s: no image–caption samples%s", strings.Join(d.shards, ", "), d.skips.suffix())
	}
	return d, nil
}

// wdsSplit splits a member name into webdataset's key and extension: the key
// is the directory plus the base name up to its first dot, the extension the
// rest of the base name, lower-cased.
func wdsSplit(name string) (key, ext string) {
	dir, base := path.Split(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		return dir + base[:i], strings.ToLower(base[i+1:])
	}
	return name, ""
}

func rank(exts []string, ext string) int {
	for i, e := range exts {
		if e == ext {
			return i
		}
	}
	return -1
}

func (d *WebDataset) indexShard(si int, shard string) error {
	f, err := os.Open(shard)
	if err != nil {
		return fmt.Errorf("data: webdataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("data: webdataset: %w", err)
	}
	fileSize := st.Size()
	pending := map[string]*wdsPending{}
	var order []*wdsPending
	bad := func(p *wdsPending, err error) error {
		if p != nil {
			p.bad = true
		}
		return badEntry(&d.skips, d.opts.SkipBad, err)
	}
	tr := tar.NewReader(f)
	last := ""
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)
			}
			if last == "" {
				err = fmt.Errorf("data: shard %s: first member: malformed tar: %w", shard, err)
			} else {
				err = fmt.Errorf("data: shard %s: member after %s: malformed tar: %w", shard, last, err)
			}
			if err := bad(nil, err); err != nil {
				return err
			}
			break
		}
		name := hdr.Name
		last = name
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("data: shard %s: member %s: %w", shard, name, err)
		}
		key, ext := wdsSplit(name)
		ir, cr := rank(wdsImageExts, ext), rank(wdsCaptionExts, ext)
		var p *wdsPending
		if ir >= 0 || cr >= 0 {
			p = pending[key]
			if p == nil {
				p = &wdsPending{key: key, imgRank: -1, capRank: -1}
				pending[key] = p
				order = append(order, p)
			}
		}
		if off+hdr.Size > fileSize {
			err := fmt.Errorf("data: shard %s: member %s: truncated: %d of %d bytes present",
				shard, name, max(0, fileSize-off), hdr.Size)
			if err := bad(p, err); err != nil {
				return err
			}
			break
		}
		switch {
		case ir >= 0:
			if p.imgRank < 0 || ir < p.imgRank {
				p.img, p.imgRank, p.off, p.size = name, ir, off, hdr.Size
			}
		case cr >= 0:
			if p.capRank >= 0 && p.capRank <= cr {
				continue
			}
			c, err := readCaption(tr, ext, hdr.Size)
			if err != nil {
				if err := bad(p, fmt.Errorf("data: shard %s: member %s: %w", shard, name, err)); err != nil {
					return err
				}
				continue
			}
			p.capt, p.capRank, p.caption = name, cr, c
		}
	}
	for _, p := range order {
		if p.bad {
			continue
		}
		switch {
		case p.img == "":
			if err := bad(p, fmt.Errorf("data: shard %s: sample %s (caption %s): no image member (.jpg, .jpeg, .png or .webp)", shard, p.key, p.capt)); err != nil {
				return err
			}
		case p.capt == "":
			if err := bad(p, fmt.Errorf("data: shard %s: sample %s (image %s): no caption member (.txt or .json)", shard, p.key, p.img)); err != nil {
				return err
			}
		default:
			d.samples = append(d.samples, wdsSample{shard: si, key: p.key, member: p.img, off: p.off, size: p.size, caption: p.caption})
		}
	}
	return nil
}

// readCaption reads a caption member: the trimmed text of a .txt, the
// "caption" string of a .json.
func readCaption(r io.Reader, ext string, size int64) (string, error) {
	if size > maxCaptionBytes {
		return "", fmt.Errorf("caption of %d bytes, over the limit of %d", size, maxCaptionBytes)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	var c string
	if ext == "json" {
		var v struct {
			Caption *string `json:"caption"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return "", fmt.Errorf("caption JSON: %w", err)
		}
		if v.Caption == nil {
			return "", errors.New(`caption JSON has no "caption" string`)
		}
		c = *v.Caption
	} else {
		c = string(b)
	}
	c = strings.TrimSpace(c)
	if c == "" {
		return "", errors.New("empty caption")
	}
	return c, nil
}

// Len returns the number of samples.
func (d *WebDataset) Len() int { return len(d.samples) }

// Caption returns the caption of sample i.
func (d *WebDataset) Caption(i int) string { return d.samples[i].caption }

// Key returns the shard and key of sample i.
func (d *WebDataset) Key(i int) (shard, key string) {
	s := &d.samples[i]
	return d.shards[s.shard], s.key
}

// Skipped returns the log of the samples and shards skipped under SkipBad.
func (d *WebDataset) Skipped() *SkipLog { return &d.skips }

// Item reads and decodes sample i's image; errors name the shard and member.
func (d *WebDataset) Item(i int) (image.Image, string, error) {
	s := &d.samples[i]
	shard := d.shards[s.shard]
	f, err := os.Open(shard)
	if err != nil {
		return nil, "", fmt.Errorf("data: webdataset: %w", err)
	}
	defer f.Close()
	buf := make([]byte, s.size)
	if _, err := f.ReadAt(buf, s.off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, "", fmt.Errorf("data: shard %s: member %s: %w", shard, s.member, err)
	}
	img, err := d.opts.Image.Decode(bytes.NewReader(buf), shard+":"+s.member)
	if err != nil {
		return nil, "", err
	}
	return img, s.caption, nil
}

// ExpandShards expands the brace patterns of webdataset shard lists:
// "train-{000..003}.tar" gives train-000.tar to train-003.tar (numeric ranges
// keep the width of the first bound), "{a,b}.tar" gives a.tar and b.tar, and
// several patterns may be joined with "::". Braces may nest or repeat.
func ExpandShards(pattern string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(pattern, "::") {
		e, err := expandBraces(p)
		if err != nil {
			return nil, fmt.Errorf("data: shard pattern %q: %w", pattern, err)
		}
		out = append(out, e...)
	}
	return out, nil
}

func expandBraces(p string) ([]string, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if strings.IndexByte(p, '}') >= 0 {
			return nil, errors.New("unmatched }")
		}
		return []string{p}, nil
	}
	depth, end := 0, -1
	var commas []int
	for i := open; i < len(p) && end < 0; i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				end = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if end < 0 {
		return nil, errors.New("unmatched {")
	}
	var alts []string
	body := p[open+1 : end]
	if len(commas) == 0 {
		lo, hi, ok := strings.Cut(body, "..")
		if !ok {
			alts = []string{"{" + body + "}"}
		} else {
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || b < a || b-a > 1_000_000 {
				return nil, fmt.Errorf("bad range {%s}", body)
			}
			for v := a; v <= b; v++ {
				alts = append(alts, fmt.Sprintf("%0*d", len(lo), v))
			}
		}
	} else {
		prev := open + 1
		for _, c := range append(commas, end) {
			sub, err := expandBraces(p[prev:c])
			if err != nil {
				return nil, err
			}
			alts = append(alts, sub...)
			prev = c + 1
		}
	}
	rest, err := expandBraces(p[end+1:])
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(alts)*len(rest))
	for _, a := range alts {
		for _, r := range rest {
			out = append(out, p[:open]+a+r)
		}
	}
	return out, nil
}
