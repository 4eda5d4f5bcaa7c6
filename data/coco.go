package data

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
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

type cocoFile struct {
	Images []struct {
		ID       *int64 `json:"id"`
		FileName string `json:"file_name"`
	} `json:"images"`
	Annotations []struct {
		ImageID *int64 `json:"image_id"`
		Caption string `json:"caption"`
	} `json:"annotations"`
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
	for k, im := range cf.Images {
		where := fmt.Sprintf("%s: images[%d]", annotations, k)
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
	for k, a := range cf.Annotations {
		where := fmt.Sprintf("%s: annotations[%d]", annotations, k)
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
