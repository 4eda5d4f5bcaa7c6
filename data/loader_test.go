package data

import (
	"errors"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// tsvLoaderFixture writes n fixture images of varied sizes and a TSV naming
// them; the images at the indices in corrupt are replaced by broken PNGs.
func tsvLoaderFixture(t testing.TB, n int, corrupt ...int) *TSVDataset {
	t.Helper()
	return tsvLoaderFixtureOf(t, n, func(k int) image.Image { return fixtureImage(k, 24+k%9, 19+k%5) }, corrupt...)
}

// texturedImage is a w×h gradient tinted by fixture colour k.
func texturedImage(k, w, h int) image.Image {
	img := fixtureImage(k, w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8((int(img.Pix[i]) + 11*x) % 256)
			img.Pix[i+1] = uint8((int(img.Pix[i+1]) + 13*y) % 256)
		}
	}
	return img
}

func tsvLoaderFixtureOf(t testing.TB, n int, mk func(k int) image.Image, corrupt ...int) *TSVDataset {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for k := 0; k < n; k++ {
		name := fmt.Sprintf("img/%03d.png", k)
		body := encodePNG(t, mk(k))
		if slices.Contains(corrupt, k) {
			body = body[:len(body)/2]
		}
		writeFile(t, filepath.Join(dir, name), body)
		fmt.Fprintf(&b, "%s\t%s\n", name, fixtureCaption(k))
	}
	path := filepath.Join(dir, "list.tsv")
	writeFile(t, path, []byte(b.String()))
	d, err := OpenTSV(path, TSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func collect(t testing.TB, it *Iterator) []*Batch {
	t.Helper()
	defer it.Close()
	var out []*Batch
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func newTestLoader(t testing.TB, ds Dataset, cfg LoaderConfig) *Loader {
	t.Helper()
	l, err := NewLoader(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sameBatches(a, b []*Batch) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d vs %d batches", len(a), len(b))
	}
	for i := range a {
		if !slices.Equal(a[i].Captions, b[i].Captions) || !slices.Equal(a[i].Indices, b[i].Indices) {
			return fmt.Errorf("batch %d: captions %v vs %v", i, a[i].Captions, b[i].Captions)
		}
		if !slices.Equal(a[i].Images, b[i].Images) {
			return fmt.Errorf("batch %d: images differ", i)
		}
	}
	return nil
}

func TestLoaderBatchesAndPairing(t *testing.T) {
	ds := tsvLoaderFixture(t, 23)
	l := newTestLoader(t, ds, LoaderConfig{BatchSize: 4, ImageSize: 10, Shuffle: true, Seed: 3, Workers: 3})
	if l.BatchesPerEpoch() != 5 {
		t.Fatalf("BatchesPerEpoch = %d, want 5", l.BatchesPerEpoch())
	}
	bs := collect(t, l.Epoch(0))
	if len(bs) != 5 {
		t.Fatalf("%d batches, want 5 (23 items, batch 4, last dropped)", len(bs))
	}
	seen := map[int]bool{}
	for _, b := range bs {
		if b.Shape() != [4]int{4, 3, 10, 10} || len(b.Images) != 4*3*10*10 {
			t.Fatalf("batch shape %v, %d values", b.Shape(), len(b.Images))
		}
		for k, c := range b.Captions {
			n := captionNumber(t, c)
			if n != b.Indices[k] || seen[n] {
				t.Fatalf("caption %q at index %d (seen %v)", c, b.Indices[k], seen[n])
			}
			seen[n] = true
			checkSolid(t, b.Images[k*300:(k+1)*300], n, 0, fmt.Sprintf("batch slot %d", k))
		}
	}
	order := l.Order(0)
	var got []int
	for _, b := range bs {
		got = append(got, b.Indices...)
	}
	if !slices.Equal(got, order[:20]) {
		t.Fatalf("batched indices %v, order %v", got, order)
	}
	sorted := slices.Clone(order)
	slices.Sort(sorted)
	for i, v := range sorted {
		if v != i {
			t.Fatalf("Order(0) is not a permutation: %v", order)
		}
	}
	if slices.Equal(order, l.Order(1)) {
		t.Fatalf("epochs 0 and 1 have the same order")
	}
	if slices.Equal(order, newTestLoader(t, ds, LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 4}).Order(0)) {
		t.Fatalf("seeds 3 and 4 give the same order")
	}
	if !slices.Equal(order, newTestLoader(t, ds, LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 3}).Order(0)) {
		t.Fatalf("seed 3 gives two orders")
	}
	// KeepLast yields the final 3.
	l = newTestLoader(t, ds, LoaderConfig{BatchSize: 4, ImageSize: 10, KeepLast: true})
	bs = collect(t, l.Epoch(0))
	if len(bs) != 6 || bs[5].Len() != 3 || len(bs[5].Images) != 3*300 || l.BatchesPerEpoch() != 6 {
		t.Fatalf("KeepLast: %d batches, last of %d", len(bs), bs[len(bs)-1].Len())
	}
	if bs[0].Indices[0] != 0 || bs[5].Indices[2] != 22 {
		t.Fatalf("unshuffled order: %v ... %v", bs[0].Indices, bs[5].Indices)
	}
}

// TestLoaderDeterministicAcrossWorkers checks that the batches, augmented
// images included, do not depend on the number of workers.
func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	ds := tsvLoaderFixtureOf(t, 21, func(k int) image.Image { return texturedImage(k, 64+k%4, 56+k%3) })
	var ref []*Batch
	for _, w := range []int{1, 2, 5} {
		for _, epoch := range []int{0, 1} {
			l := newTestLoader(t, ds, LoaderConfig{BatchSize: 3, ImageSize: 12, Shuffle: true, Augment: true, Seed: 11, Workers: w, Prefetch: 1})
			bs := collect(t, l.Epoch(epoch))
			if epoch == 1 {
				if err := sameBatches(ref, bs); err == nil {
					t.Fatalf("epochs 0 and 1 give the same batches")
				}
				continue
			}
			if ref == nil {
				ref = bs
				continue
			}
			if err := sameBatches(ref, bs); err != nil {
				t.Fatalf("workers=%d differs from workers=1: %v", w, err)
			}
		}
	}
	if len(ref) != 7 {
		t.Fatalf("%d batches", len(ref))
	}
	// The augmentation is random: the same item differs between epochs (the
	// crop is drawn per seed, epoch and item) and differs from Preprocess.
	l := newTestLoader(t, ds, LoaderConfig{BatchSize: 3, ImageSize: 12, Shuffle: true, Augment: true, Seed: 11})
	e1 := collect(t, l.Epoch(1))
	per := 3 * 12 * 12
	find := func(bs []*Batch, idx int) []float32 {
		for _, b := range bs {
			if k := slices.Index(b.Indices, idx); k >= 0 {
				return b.Images[k*per : (k+1)*per]
			}
		}
		return nil
	}
	differ := 0
	for idx := 0; idx < 21; idx++ {
		a, b := find(ref, idx), find(e1, idx)
		if a == nil || b == nil {
			t.Fatalf("item %d missing from an epoch", idx)
		}
		if !slices.Equal(a, b) {
			differ++
		}
		img, _, _ := ds.Item(idx)
		if slices.Equal(a, Preprocess(img, 12)) {
			t.Errorf("augmented item %d equals the eval preprocessing", idx)
		}
	}
	t.Logf("%d of 21 items augmented differently in epochs 0 and 1", differ)
	if differ < 15 {
		t.Errorf("only %d of 21 items are augmented differently in epochs 0 and 1", differ)
	}
}

func TestLoaderResume(t *testing.T) {
	ds := tsvLoaderFixture(t, 17, 5)
	cfg := LoaderConfig{BatchSize: 3, ImageSize: 8, Shuffle: true, Seed: 2, Workers: 2, SkipBad: true}
	all := collect(t, newTestLoader(t, ds, cfg).Epoch(4))
	// 17 items, one bad: 16 good, 5 batches of 3.
	if len(all) != 5 {
		t.Fatalf("%d batches, want 5", len(all))
	}
	l := newTestLoader(t, ds, cfg)
	it := l.Epoch(4)
	for range 2 {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
	}
	pos := it.Pos()
	it.Close()
	if _, err := it.Next(); err == nil {
		t.Fatalf("Next after Close succeeded")
	}
	rest := collect(t, l.EpochFrom(4, pos))
	if err := sameBatches(all[2:], rest); err != nil {
		t.Fatalf("resumed at %d: %v", pos, err)
	}
}

func TestLoaderSkipBad(t *testing.T) {
	ds := tsvLoaderFixture(t, 10, 2, 7)
	// Without SkipBad the bad image ends the epoch with an error naming the
	// captions file, its line and the image.
	l := newTestLoader(t, ds, LoaderConfig{BatchSize: 4, ImageSize: 8, Workers: 3})
	it := l.Epoch(0)
	b, err := it.Next()
	if err == nil {
		t.Fatalf("first batch %v loaded without error", b.Indices)
	}
	if !strings.Contains(err.Error(), "list.tsv:3") || !strings.Contains(err.Error(), "002.png") {
		t.Fatalf("error %q does not name list.tsv:3 and 002.png", err)
	}
	if _, err2 := it.Next(); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
	it.Close()
	// With SkipBad both are skipped and counted, and batches are filled.
	l = newTestLoader(t, ds, LoaderConfig{BatchSize: 4, ImageSize: 8, Workers: 3, SkipBad: true})
	bs := collect(t, l.Epoch(0))
	if len(bs) != 2 || l.Skipped() != 2 {
		t.Fatalf("%d batches, %d skipped; want 2 and 2", len(bs), l.Skipped())
	}
	want := []int{0, 1, 3, 4, 5, 6, 8, 9}
	if got := append(slices.Clone(bs[0].Indices), bs[1].Indices...); !slices.Equal(got, want) {
		t.Fatalf("indices %v, want %v", got, want)
	}
	if errs := l.SkipLog().Errors(); len(errs) != 2 || !strings.Contains(errs[1].Error(), "list.tsv:8") {
		t.Fatalf("skip log %v", errs)
	}
	// Skips made when the dataset was opened are reported by the loader too.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), encodePNG(t, fixtureImage(0, 9, 9)))
	writeFile(t, filepath.Join(dir, "l.tsv"), []byte("a.png\tone\nb.png\ttwo\na.png\t\n"))
	d2, err := OpenTSV(filepath.Join(dir, "l.tsv"), TSVOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if l := newTestLoader(t, d2, LoaderConfig{BatchSize: 1}); l.Skipped() != 2 {
		t.Fatalf("loader reports %d skipped, want 2", l.Skipped())
	}
}

func TestLoaderSynthetic(t *testing.T) {
	s := newTestSynth(t, SynthConfig{ImageSize: 32, TrainSize: 50})
	tr := s.Train()
	l := newTestLoader(t, tr, LoaderConfig{BatchSize: 8, Workers: 2, Shuffle: true, Seed: 1})
	if l.Config().ImageSize != 32 {
		t.Fatalf("image size %d, want the dataset's 32", l.Config().ImageSize)
	}
	bs := collect(t, l.Epoch(0))
	if len(bs) != 6 {
		t.Fatalf("%d batches, want 6", len(bs))
	}
	one := make([]float32, 3*32*32)
	for _, b := range bs {
		for k, idx := range b.Indices {
			c, _ := tr.ItemCHW(one, idx)
			if c != b.Captions[k] || !slices.Equal(one, b.Images[k*len(one):(k+1)*len(one)]) {
				t.Fatalf("batch slot %d (index %d) differs from ItemCHW", k, idx)
			}
		}
	}
	// At another size the loader resizes through Preprocess.
	l = newTestLoader(t, tr, LoaderConfig{BatchSize: 2, ImageSize: 16})
	it := l.Epoch(0)
	b, err := it.Next()
	it.Close()
	if err != nil {
		t.Fatal(err)
	}
	img, _ := tr.Sample(1)
	if !slices.Equal(b.Images[3*16*16:], Preprocess(img, 16)) {
		t.Fatalf("resized synthetic image differs from Preprocess")
	}
}

func TestLoaderCloseStopsWorkers(t *testing.T) {
	s := newTestSynth(t, SynthConfig{TrainSize: 10000})
	before := runtime.NumGoroutine()
	l := newTestLoader(t, s.Train(), LoaderConfig{BatchSize: 16, Workers: 4})
	it := l.Epoch(0)
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	it.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func TestLoaderConfigErrors(t *testing.T) {
	ds := newTestSynth(t, SynthConfig{}).Train()
	for _, cfg := range []LoaderConfig{{}, {BatchSize: -1}, {BatchSize: 2, ImageSize: -3}} {
		if _, err := NewLoader(ds, cfg); err == nil {
			t.Errorf("NewLoader(%+v) succeeded", cfg)
		}
	}
	if _, err := NewLoader(nil, LoaderConfig{BatchSize: 1}); err == nil {
		t.Errorf("NewLoader(nil) succeeded")
	}
}

func BenchmarkLoaderSynthetic(b *testing.B) {
	s := newTestSynth(b, SynthConfig{})
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d/batch=64", w), func(b *testing.B) {
			l := newTestLoader(b, s.Train(), LoaderConfig{BatchSize: 64, Workers: w})
			it := l.Epoch(0)
			defer it.Close()
			for b.Loop() {
				if _, err := it.Next(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

func TestLoaderRecycle(t *testing.T) {
	ds := tsvLoaderFixture(t, 13)
	cfg := LoaderConfig{BatchSize: 3, ImageSize: 6, Shuffle: true, Seed: 5, KeepLast: true}
	want := collect(t, newTestLoader(t, ds, cfg).Epoch(2))
	it := newTestLoader(t, ds, cfg).Epoch(2)
	defer it.Close()
	var first *Batch
	for k := 0; ; k++ {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			if k != len(want) {
				t.Fatalf("%d batches, want %d", k, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			first = b
		} else if &b.Images[0] != &first.Images[0] {
			t.Fatalf("batch %d does not reuse the recycled memory", k)
		}
		if err := sameBatches(want[k:k+1], []*Batch{b}); err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		it.Recycle(b)
	}
}

// TestLoaderInline checks that an Inline loader (no workers: Next and Help
// load the items) yields what workers do, that Help loads the prefetch
// window ahead (item by item, then reports there is nothing left), and that
// it does nothing before the first Next or after Close.
func TestLoaderInline(t *testing.T) {
	ds := tsvLoaderFixtureOf(t, 21, func(k int) image.Image { return texturedImage(k, 64+k%4, 56+k%3) })
	cfg := LoaderConfig{BatchSize: 3, ImageSize: 12, Shuffle: true, Augment: true, Seed: 11, Workers: 2, Prefetch: 2, SkipBad: true}
	want := collect(t, newTestLoader(t, ds, cfg).Epoch(0))
	cfg.Inline = true
	l := newTestLoader(t, ds, cfg)
	if got := collect(t, l.Epoch(0)); sameBatches(want, got) != nil {
		t.Fatalf("inline: %v", sameBatches(want, got))
	}
	// Help between batches loads the window (2 batches of 3) ahead.
	it := l.Epoch(0)
	if it.Help() {
		t.Fatal("Help before the first Next loaded an item")
	}
	var got []*Batch
	for {
		helped := 0
		for it.Help() {
			helped++
		}
		// Next refills the window (2 batches) before it takes each item:
		// after the first batch 5 items wait; after later ones, the 3 it
		// queued (Help loaded the rest before).
		if want := map[int]int{0: 0, 1: 5, 2: 3, 3: 3}[len(got)]; len(got) < 4 && helped != want {
			t.Fatalf("after batch %d Help loaded %d items, want %d", len(got), helped, want)
		}
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if err := sameBatches(want, got); err != nil {
		t.Fatalf("inline with Help: %v", err)
	}
	it.Close()
	if it.Help() {
		t.Fatal("Help after Close loaded an item")
	}
	var nilIt *Iterator
	if nilIt.Help() {
		t.Fatal("Help on a nil iterator")
	}
}
