package data

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"sync"
)

// Dataset is an indexed image–caption dataset: the synthetic splits
// (SynthSplit), captions files (TSVDataset), COCO captions (COCODataset) and
// webdataset tar shards (WebDataset).
type Dataset interface {
	// Len returns the number of image–caption pairs.
	Len() int
	// Item loads pair i (0 <= i < Len()). It is safe for concurrent use. Errors
	// name the file (and line, member or field) at fault.
	Item(i int) (img image.Image, caption string, err error)
}

// CHWDataset is a Dataset that writes its images directly as normalised
// (3, S, S) floats at its own image size S, skipping decode and resize. The
// loader uses ItemCHW when its image size is S and it does not augment.
type CHWDataset interface {
	Dataset
	ImageSize() int
	// ItemCHW writes image i to dst (3*S*S values) and returns its caption.
	ItemCHW(dst []float32, i int) (caption string, err error)
}

// MaxSkipErrors is the number of errors a SkipLog keeps.
const MaxSkipErrors = 20

// SkipLog counts the items skipped under a SkipBad option and keeps the first
// MaxSkipErrors reasons. It is safe for concurrent use.
type SkipLog struct {
	mu    sync.Mutex
	n     int
	first []error
}

func (s *SkipLog) add(err error) {
	s.mu.Lock()
	s.n++
	if len(s.first) < MaxSkipErrors {
		s.first = append(s.first, err)
	}
	s.mu.Unlock()
}

// Count returns the number of skipped items.
func (s *SkipLog) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Errors returns the reasons of the first skipped items (at most MaxSkipErrors).
func (s *SkipLog) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.first...)
}

// String summarises the log: "3 skipped; first: ...".
func (s *SkipLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return "0 skipped"
	}
	return fmt.Sprintf("%d skipped; first: %v", s.n, s.first[0])
}

// suffix is "" for an empty log, else " (" + String() + ")".
func (s *SkipLog) suffix() string {
	if s.Count() == 0 {
		return ""
	}
	return " (" + s.String() + ")"
}

// skipper is implemented by datasets that skip bad entries when opened.
type skipper interface{ Skipped() *SkipLog }

// badEntry handles a bad entry while a dataset is opened: under skipBad it is
// logged and nil returned, else err is returned.
func badEntry(log *SkipLog, skipBad bool, err error) error {
	if skipBad {
		log.add(err)
		return nil
	}
	return err
}

// OpenOptions configures OpenDataset.
type OpenOptions struct {
	// ImageRoot is the directory COCO file_name paths are relative to; default
	// the directory of the annotations file.
	ImageRoot string
	// Sep, ImageKey and CaptionKey configure captions files (see TSVOptions).
	Sep                  rune
	ImageKey, CaptionKey string
	// SkipBad skips and counts bad entries instead of failing.
	SkipBad bool
	// Image configures decoding (the pixel limit).
	Image ImageOptions
}

// OpenDataset opens a file dataset by the form of its path: webdataset shards
// for a name ending in .tar or a brace/"::" pattern (ExpandShards), COCO
// captions for a .json file, and a captions file (TSV or CSV) otherwise.
func OpenDataset(path string, o OpenOptions) (Dataset, error) {
	switch {
	case strings.HasSuffix(strings.ToLower(path), ".tar") || strings.ContainsAny(path, "{}") || strings.Contains(path, "::"):
		shards, err := ExpandShards(path)
		if err != nil {
			return nil, err
		}
		return OpenWebDataset(shards, WebDatasetOptions{SkipBad: o.SkipBad, Image: o.Image})
	case strings.EqualFold(filepath.Ext(path), ".json"):
		root := o.ImageRoot
		if root == "" {
			root = filepath.Dir(path)
		}
		return OpenCOCO(path, root, COCOOptions{SkipBad: o.SkipBad, Image: o.Image})
	default:
		return OpenTSV(path, TSVOptions{Sep: o.Sep, ImageKey: o.ImageKey, CaptionKey: o.CaptionKey, SkipBad: o.SkipBad, Image: o.Image})
	}
}
