package data

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int // images per batch; required
	// ImageSize is the side S of the (3, S, S) images; default the dataset's own
	// size for a CHWDataset, else DefaultImageSize.
	ImageSize int
	Workers   int    // decoding goroutines; default GOMAXPROCS
	Seed      uint64 // seeds the shuffle and the augmentation
	Shuffle   bool   // a fresh seeded permutation every epoch
	// Augment applies open_clip's training transform (RandomResizedCrop) with a
	// random stream per (seed, epoch, item) instead of the eval Preprocess.
	Augment bool
	// KeepLast yields the final partial batch of an epoch; by default it is dropped.
	KeepLast bool
	// SkipBad skips items that fail to load (missing or undecodable images),
	// counting them (Loader.Skipped) and filling the batch from the next items.
	SkipBad bool
	// Prefetch is the number of batches decoded ahead; default 2.
	Prefetch int
	// Inline starts no worker goroutines: Next loads the items it waits
	// for on the calling goroutine, and Iterator.Help loads items ahead.
	// In-process data-parallel ranks load this way in the time they wait
	// for each other, instead of having workers compete with them for the
	// CPUs (a worker holding a CPU holds up a rank that has finished
	// waiting, and the others then wait for that one).
	Inline bool
}

// Batch is a batch of preprocessed images and their captions.
type Batch struct {
	Images   []float32 // (B, 3, S, S), channel-major, normalised
	Captions []string  // B captions
	Indices  []int     // B dataset indices
	Size     int       // S
}

// Len returns the number of pairs B.
func (b *Batch) Len() int { return len(b.Captions) }

// Shape returns (B, 3, S, S).
func (b *Batch) Shape() [4]int { return [4]int{len(b.Captions), 3, b.Size, b.Size} }

// Loader turns a Dataset into batches: parallel decode and preprocessing on
// Workers goroutines, a seeded shuffle per epoch and drop-last batching. The
// batches of an epoch depend only on the dataset, the seed and the epoch, never
// on the number of workers or their timing.
type Loader struct {
	ds     Dataset
	cfg    LoaderConfig
	direct CHWDataset // set when images come from ItemCHW
	skips  SkipLog
}

// NewLoader returns a loader over ds.
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("data: loader: nil dataset")
	}
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("data: loader: batch size %d < 1", cfg.BatchSize)
	}
	chw, isCHW := ds.(CHWDataset)
	if cfg.ImageSize == 0 {
		cfg.ImageSize = DefaultImageSize
		if isCHW {
			cfg.ImageSize = chw.ImageSize()
		}
	}
	if cfg.ImageSize < 1 {
		return nil, fmt.Errorf("data: loader: image size %d < 1", cfg.ImageSize)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	l := &Loader{ds: ds, cfg: cfg}
	if isCHW && chw.ImageSize() == cfg.ImageSize && !cfg.Augment {
		l.direct = chw
	}
	return l, nil
}

// Config returns the configuration with defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// BatchesPerEpoch returns the number of batches of an epoch with no skipped items.
func (l *Loader) BatchesPerEpoch() int {
	n := l.ds.Len() / l.cfg.BatchSize
	if l.cfg.KeepLast && l.ds.Len()%l.cfg.BatchSize != 0 {
		n++
	}
	return n
}

// Skipped returns the number of items skipped under SkipBad: those that failed
// to load in this loader plus those the dataset skipped when it was opened.
func (l *Loader) Skipped() int {
	n := l.skips.Count()
	if s, ok := l.ds.(skipper); ok {
		n += s.Skipped().Count()
	}
	return n
}

// SkipLog returns the log of the items that failed to load in this loader.
func (l *Loader) SkipLog() *SkipLog { return &l.skips }

// Order returns the dataset indices of an epoch in the order they are batched:
// a permutation drawn from (seed, epoch) when shuffling, else 0..Len-1.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if l.cfg.Shuffle {
		r := rand.New(rand.NewPCG(splitmix(l.cfg.Seed^0x73687566666c65), splitmix(uint64(epoch))))
		for i := n - 1; i > 0; i-- {
			j := int(r.Uint64N(uint64(i + 1)))
			order[i], order[j] = order[j], order[i]
		}
	}
	return order
}

// Epoch starts iterating over an epoch from its beginning.
func (l *Loader) Epoch(epoch int) *Iterator { return l.EpochFrom(epoch, 0) }

// EpochFrom starts iterating over an epoch at position pos of its order (an
// Iterator.Pos of an earlier run, to resume).
func (l *Loader) EpochFrom(epoch, pos int) *Iterator {
	order := l.Order(epoch)
	pos = min(max(pos, 0), len(order))
	window := l.cfg.Prefetch * l.cfg.BatchSize
	if !l.cfg.Inline {
		window += l.cfg.Workers
	}
	return &Iterator{l: l, epoch: epoch, order: order, next: pos, pos: pos, window: window}
}

// Iterator yields the batches of one epoch. Next, Help and Close must be
// called from one goroutine.
type Iterator struct {
	l       *Loader
	epoch   int
	order   []int
	next    int // next order position to dispatch
	pos     int // next order position to consume
	window  int
	pending []*loadJob
	jobs    chan *loadJob
	stop    atomic.Bool
	wg      sync.WaitGroup
	err     error
	closed  bool
	free    [][]float32
	freeMu  sync.Mutex
	spare   *Batch
}

type loadJob struct {
	pos, index int
	img        []float32
	caption    string
	err        error
	done       chan struct{}
}

// Pos returns the position in the epoch's order of the next item to be
// consumed: EpochFrom(epoch, it.Pos()) resumes after the batches yielded so far.
func (it *Iterator) Pos() int { return it.pos }

func (it *Iterator) start() {
	it.jobs = make(chan *loadJob, it.window)
	if it.l.cfg.Inline {
		return
	}
	for range it.l.cfg.Workers {
		it.wg.Add(1)
		go func() {
			defer it.wg.Done()
			for j := range it.jobs {
				it.do(j)
			}
		}()
	}
}

// do loads one item.
func (it *Iterator) do(j *loadJob) {
	if it.stop.Load() {
		j.err = errIteratorClosed
	} else {
		j.img = it.buffer()
		j.caption, j.err = it.l.load(j.img, j.index, it.epoch)
	}
	close(j.done)
}

// Help loads the next item of the prefetch window that nothing has started
// loading, on the calling goroutine, and reports whether there was one
// (false before the first Next, once the window is loaded or started, and
// after Close). With LoaderConfig.Inline, items are loaded only by Next
// and Help.
func (it *Iterator) Help() bool {
	if it == nil || it.jobs == nil {
		return false
	}
	select {
	case j, ok := <-it.jobs:
		if !ok {
			return false
		}
		it.do(j)
		return true
	default:
		return false
	}
}

var errIteratorClosed = errors.New("data: iterator closed")

func (it *Iterator) buffer() []float32 {
	it.freeMu.Lock()
	defer it.freeMu.Unlock()
	if n := len(it.free); n > 0 {
		b := it.free[n-1]
		it.free = it.free[:n-1]
		return b
	}
	s := it.l.cfg.ImageSize
	return make([]float32, 3*s*s)
}

func (it *Iterator) release(b []float32) {
	if b == nil {
		return
	}
	it.freeMu.Lock()
	it.free = append(it.free, b)
	it.freeMu.Unlock()
}

// Next returns the next batch, or io.EOF at the end of the epoch (the final
// partial batch is dropped unless KeepLast). Without SkipBad, the first item
// that fails to load ends the epoch with its error.
func (it *Iterator) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.closed {
		return nil, errIteratorClosed
	}
	if it.jobs == nil {
		it.start()
	}
	cfg := &it.l.cfg
	s := cfg.ImageSize
	per := 3 * s * s
	b := it.spare
	it.spare = nil
	if b == nil {
		b = &Batch{Images: make([]float32, cfg.BatchSize*per),
			Captions: make([]string, 0, cfg.BatchSize), Indices: make([]int, 0, cfg.BatchSize)}
	}
	b.Images, b.Captions, b.Indices, b.Size = b.Images[:cap(b.Images)], b.Captions[:0], b.Indices[:0], s
	for len(b.Captions) < cfg.BatchSize {
		for len(it.pending) < it.window && it.next < len(it.order) {
			j := &loadJob{pos: it.next, index: it.order[it.next], done: make(chan struct{})}
			it.next++
			it.pending = append(it.pending, j)
			it.jobs <- j
		}
		if len(it.pending) == 0 {
			break
		}
		j := it.pending[0]
		it.pending[0] = nil
		it.pending = it.pending[1:]
		if it.l.cfg.Inline {
			// Jobs leave the queue in order, so j is the next one
			// unless it is done.
			for waiting := true; waiting; {
				select {
				case <-j.done:
					waiting = false
				default:
					it.Help()
				}
			}
		} else {
			<-j.done
		}
		it.pos = j.pos + 1
		if j.err != nil {
			it.release(j.img)
			if cfg.SkipBad {
				it.l.skips.add(j.err)
				continue
			}
			it.err = j.err
			it.shutdown()
			return nil, j.err
		}
		k := len(b.Captions)
		copy(b.Images[k*per:(k+1)*per], j.img)
		it.release(j.img)
		b.Captions = append(b.Captions, j.caption)
		b.Indices = append(b.Indices, j.index)
	}
	n := len(b.Captions)
	if n == 0 || (n < cfg.BatchSize && !cfg.KeepLast) {
		it.err = io.EOF
		it.shutdown()
		return nil, io.EOF
	}
	b.Images = b.Images[:n*per]
	return b, nil
}

// Recycle hands a batch the caller is done with back to the iterator, whose
// next batch then reuses its memory instead of allocating.
func (it *Iterator) Recycle(b *Batch) {
	s := it.l.cfg.ImageSize
	if b != nil && cap(b.Images) >= it.l.cfg.BatchSize*3*s*s && cap(b.Captions) >= it.l.cfg.BatchSize && cap(b.Indices) >= it.l.cfg.BatchSize {
		clear(b.Captions[:cap(b.Captions)])
		b.Images = b.Images[:it.l.cfg.BatchSize*3*s*s]
		it.spare = b
	}
}

// Close stops the workers; the iterator yields no more batches.
func (it *Iterator) Close() {
	if !it.closed {
		it.shutdown()
		it.closed = true
	}
}

func (it *Iterator) shutdown() {
	if it.jobs != nil {
		it.stop.Store(true)
		close(it.jobs)
		it.wg.Wait()
		it.jobs = nil
		it.pending = nil
	}
	it.closed = true
}

// load preprocesses dataset item index into dst.
func (l *Loader) load(dst []float32, index, epoch int) (caption string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("data: item %d: preprocessing failed: %v", index, p)
		}
	}()
	if l.direct != nil {
		return l.direct.ItemCHW(dst, index)
	}
	img, caption, err := l.ds.Item(index)
	if err != nil {
		return "", err
	}
	if l.cfg.Augment {
		r := rand.New(rand.NewPCG(splitmix(l.cfg.Seed^0x6175676d656e74), splitmix(splitmix(uint64(epoch))^uint64(index))))
		RandomResizedCropInto(dst, img, l.cfg.ImageSize, r)
	} else {
		PreprocessInto(dst, img, l.cfg.ImageSize)
	}
	return caption, nil
}
