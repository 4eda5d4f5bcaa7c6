package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// COCOOptions configures OpenCOCO.
type COCOOptions struct {
	// SkipBad drops bad annotations (empty caption, unknown image id) and the
	// annotations of bad images (empty or missing file) when the file is opened,
	// counting them (Skipped) instead of failing.
	SkipBad bool
	// NoStat skips checking that every image exists when the file is opened.
	NoStat bool
	// Image configures decoding (the pixel limit).
	Image ImageOptions
}

// COCODataset is a COCO captions file (annotations/captions_*.json): one pair
// per annotation, in annotation order, images under an image root.
type COCODataset struct {
	path     string
	opts     COCOOptions
	items    []fileItem
	imageIdx []int   // per item: index into imageIDs
	imageIDs []int64 // distinct images with at least one caption, first-seen order
	skips    SkipLog
}

// cocoFile is read in two steps, the lists and then each item, so that a
// value of the wrong type is reported with the item it is in.
type cocoFile struct {
	Images      []json.RawMessage `json:"images"`
	Annotations []json.RawMessage `json:"annotations"`
}

type cocoImage struct {
	ID       *int64 `json:"id"`
	FileName string `json:"file_name"`
}

type cocoAnnotation struct {
	ImageID *int64 `json:"image_id"`
	Caption string `json:"caption"`
}

// jsonError describes a JSON decoding error for a message that already names
// the file and the item: a value of the wrong type names the field and both
// types ("\"caption\" is a number, want a string").
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch te.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Int64, reflect.Pointer:
			want = "an integer"
		case reflect.Slice:
			want = "a list"
		case reflect.Struct, reflect.Map:
			want = "an object"
		}
		if te.Field == "" {
			return fmt.Sprintf("is %s, want %s", jsonKind(te.Value), want)
		}
		return fmt.Sprintf("%q is %s, want %s", te.Field, jsonKind(te.Value), want)
	}
	return err.Error()
}

// jsonKind names a JSON value kind as UnmarshalTypeError.Value gives it.
func jsonKind(v string) string {
	switch {
	case strings.HasPrefix(v, "number"):
		return "a " + v
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	}
	return "a " + v
}

// OpenCOCO reads a COCO captions file whose images[].file_name are relative to
// imageRoot. Errors name the file and the field:
// "data: captions_val2017.json: annotations[7]: image_id 12 is not in images".
func OpenCOCO(annotations, imageRoot string, opts COCOOptions) (*COCODataset, error) {
	b, err := os.ReadFile(annotations)
	if err != nil {
		return nil, fmt.Errorf("data: COCO captions: %w", err)
	}
	var cf cocoFile
	if err := json.Unmarshal(b, &cf); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := "the top level"
			if te.Field != "" {
				where = strconv.Quote(te.Field)
			}
			return nil, fmt.Errorf("data: %s: not a COCO captions file: %s is %s, want %s", annotations, where, jsonKind(te.Value),
				map[bool]string{true: "an object", false: "a list"}[te.Field == ""])
		}
		return nil, fmt.Errorf("data: %s: %w", annotations, err)
	}
	if cf.Images == nil {
		return nil, fmt.Errorf("data: %s: no \"images\" list", annotations)
	}
	if cf.Annotations == nil {
		return nil, fmt.Errorf("data: %s: no \"annotations\" list", annotations)
	}
	d := &COCODataset{path: annotations, opts: opts}
	type img struct {
		path string
		bad  bool
		pos  int // index into imageIDs, -1 until used
	}
	images := make(map[int64]*img, len(cf.Images))
	for k, raw := range cf.Images {
		where := fmt.Sprintf("%s: images[%d]", annotations, k)
		var im cocoImage
		if err := json.Unmarshal(raw, &im); err != nil {
			var te *json.UnmarshalTypeError
			if im.ID == nil || errors.As(err, &te) && te.Field == "id" {
				return nil, fmt.Errorf("data: %s: %s", where, jsonError(err))
			}
			// The id is known: the image is bad, and its captions go with it.
			if _, dup := images[*im.ID]; !dup {
				images[*im.ID] = &img{pos: -1, bad: true}
			}
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s (id %d): %s", where, *im.ID, jsonError(err))); err != nil {
				return nil, err
			}
			continue
		}
		if im.ID == nil {
			return nil, fmt.Errorf("data: %s: no \"id\"", where)
		}
		if _, dup := images[*im.ID]; dup {
			return nil, fmt.Errorf("data: %s: duplicate id %d", where, *im.ID)
		}
		e := &img{pos: -1}
		images[*im.ID] = e
		if strings.TrimSpace(im.FileName) == "" {
			e.bad = true
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s (id %d): empty \"file_name\"", where, *im.ID)); err != nil {
				return nil, err
			}
			continue
		}
		e.path = filepath.Join(imageRoot, filepath.FromSlash(im.FileName))
		if !opts.NoStat {
			if err := statImage(e.path); err != nil {
				e.bad = true
				if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s (id %d): %w", where, *im.ID, err)); err != nil {
					return nil, err
				}
			}
		}
	}
	for k, raw := range cf.Annotations {
		where := fmt.Sprintf("%s: annotations[%d]", annotations, k)
		var a cocoAnnotation
		if err := json.Unmarshal(raw, &a); err != nil {
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: %s", where, jsonError(err))); err != nil {
				return nil, err
			}
			continue
		}
		if a.ImageID == nil {
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: no \"image_id\"", where)); err != nil {
				return nil, err
			}
			continue
		}
		e, ok := images[*a.ImageID]
		if !ok {
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s: image_id %d is not in images", where, *a.ImageID)); err != nil {
				return nil, err
			}
			continue
		}
		caption := strings.TrimSpace(a.Caption)
		if caption == "" {
			if err := badEntry(&d.skips, opts.SkipBad, fmt.Errorf("data: %s (image_id %d): empty caption", where, *a.ImageID)); err != nil {
				return nil, err
			}
			continue
		}
		if e.bad {
			// The image was reported (and counted) above; its captions go with it.
			continue
		}
		if e.pos < 0 {
			e.pos = len(d.imageIDs)
			d.imageIDs = append(d.imageIDs, *a.ImageID)
		}
		d.items = append(d.items, fileItem{path: e.path, caption: caption, where: where})
		d.imageIdx = append(d.imageIdx, e.pos)
	}
	if len(d.items) == 0 {
		return nil, fmt.Errorf("data: %s: no captioned images%s", annotations, d.skips.suffix())
	}
	return d, nil
}

// Len returns the number of pairs (annotations).
func (d *COCODataset) Len() int { return len(d.items) }

// Item loads pair i; errors name the annotations file and annotation.
func (d *COCODataset) Item(i int) (image.Image, string, error) { return d.items[i].load(d.opts.Image) }

// Path returns the image path of pair i.
func (d *COCODataset) Path(i int) string { return d.items[i].path }

// Caption returns the caption of pair i.
func (d *COCODataset) Caption(i int) string { return d.items[i].caption }

// ImageIndex returns the image of pair i as an index in [0, NumImages()):
// the pairs of one image (COCO has five captions per image) share it, which
// image–text retrieval needs.
func (d *COCODataset) ImageIndex(i int) int { return d.imageIdx[i] }

// NumImages returns the number of distinct images with a caption.
func (d *COCODataset) NumImages() int { return len(d.imageIDs) }

// ImageID returns the COCO id of image index k (see ImageIndex).
func (d *COCODataset) ImageID(k int) int64 { return d.imageIDs[k] }

// Skipped returns the log of the entries skipped under SkipBad.
func (d *COCODataset) Skipped() *SkipLog { return &d.skips }
