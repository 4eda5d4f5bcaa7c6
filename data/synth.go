package data

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
)

// Difficulty selects the scene distribution of the synthetic dataset.
type Difficulty int

const (
	// SynthDefault: 5 shapes, 6 colours, 2 sizes, one or two objects
	// (25% one object, 10% two identical objects counted, 65% two related
	// objects); 7,200 distinct captions.
	SynthDefault Difficulty = iota
	// SynthEasy: the default shapes, colours and sizes, always one object
	// (60 captions).
	SynthEasy
	// SynthHard: 8 shapes, 10 colours, 3 sizes, one to three objects (chains of
	// two relations), per-pixel background noise, rotation and stronger
	// background and size jitter.
	SynthHard
)

var difficultyNames = [...]string{SynthDefault: "default", SynthEasy: "easy", SynthHard: "hard"}

func (d Difficulty) String() string {
	if d >= 0 && int(d) < len(difficultyNames) {
		return difficultyNames[d]
	}
	return fmt.Sprintf("Difficulty(%d)", int(d))
}

// ParseDifficulty parses "easy", "default" or "hard".
func ParseDifficulty(s string) (Difficulty, error) {
	for d, n := range difficultyNames {
		if strings.EqualFold(s, n) {
			return Difficulty(d), nil
		}
	}
	return 0, fmt.Errorf("data: unknown synthetic difficulty %q (want easy, default or hard)", s)
}

// Shape is a shape of the synthetic dataset.
type Shape uint8

// The shapes; the default difficulty uses the first five.
const (
	Circle Shape = iota
	Square
	Triangle
	Star
	Cross
	Diamond
	Hexagon
	Ring
	numShapes
)

var shapeNames = [numShapes]string{"circle", "square", "triangle", "star", "cross", "diamond", "hexagon", "ring"}
var shapePlurals = [numShapes]string{"circles", "squares", "triangles", "stars", "crosses", "diamonds", "hexagons", "rings"}

func (s Shape) String() string {
	if s < numShapes {
		return shapeNames[s]
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// synthColour is a named colour; objects are rendered at RGB plus a per-object jitter.
type synthColour struct {
	name string
	rgb  [3]uint8
}

// The colours; the default difficulty uses the first six.
var synthColours = [...]synthColour{
	{"red", [3]uint8{225, 35, 35}},
	{"green", [3]uint8{40, 185, 60}},
	{"blue", [3]uint8{45, 95, 235}},
	{"yellow", [3]uint8{240, 225, 45}},
	{"purple", [3]uint8{155, 60, 210}},
	{"orange", [3]uint8{250, 135, 25}},
	{"cyan", [3]uint8{40, 215, 225}},
	{"pink", [3]uint8{250, 140, 200}},
	{"white", [3]uint8{245, 245, 245}},
	{"brown", [3]uint8{135, 80, 40}},
}

// Relation is the spatial relation of one object to the next in a caption.
type Relation uint8

// The relations.
const (
	LeftOf Relation = iota
	RightOf
	Above
	Below
)

var relationNames = [...]string{"left of", "right of", "above", "below"}

func (r Relation) String() string {
	if int(r) < len(relationNames) {
		return relationNames[r]
	}
	return fmt.Sprintf("Relation(%d)", int(r))
}

// inverse returns the relation of the second object to the first.
func (r Relation) inverse() Relation { return r ^ 1 }

// Object is one rendered object of a scene.
type Object struct {
	Shape  Shape
	Colour int      // index into the colour list (ColourNames)
	Size   int      // index into the size list (SizeNames): 0 is the smallest
	X, Y   float64  // centre in pixels, (0, 0) the top-left corner of the image
	R      float64  // nominal radius in pixels (the shape's scale)
	Angle  float64  // rotation in radians (0 except at the hard difficulty)
	RGB    [3]uint8 // the rendered colour (the named colour plus jitter)
}

// extent is the radius of the circle around the centre that holds the shape.
func (o *Object) extent() float64 { return float64(o.R * shapeExtent[o.Shape]) }

// Shape geometry relative to the nominal radius R.
var shapeExtent = [numShapes]float64{
	Circle:   1,
	Square:   0.86 * math.Sqrt2,
	Triangle: 1.2,
	Star:     1.25,
	Cross:    math.Hypot(1, 0.34),
	Diamond:  1.2,
	Hexagon:  1.05,
	Ring:     1,
}

func (o *Object) key() int { return (int(o.Shape)*64+o.Colour)*16 + o.Size }

func (o *Object) sameKind(p *Object) bool {
	return o.Shape == p.Shape && o.Colour == p.Colour && o.Size == p.Size
}

// Scene is the description a synthetic sample is rendered and captioned from.
type Scene struct {
	// Objects in caption order.
	Objects []Object
	// Relations[k] is the relation of Objects[k] to Objects[k+1]; empty for one
	// object or counted identical objects.
	Relations []Relation
	// Counted is set when all objects are identical and captioned by number.
	Counted bool
	// Background is the base background colour.
	Background [3]uint8
	// Noise is the amplitude of uniform per-pixel background noise (0 or hard).
	Noise int
	// NoiseSeed seeds the per-pixel noise.
	NoiseSeed uint64
	Caption   string
}

// synthSpec is the scene distribution of a difficulty.
type synthSpec struct {
	shapes, colours int
	sizeWords       []string
	sizeFracs       []float64 // nominal radius as a fraction of the image side
	sizeJitter      float64   // relative radius jitter
	// weights of the scene kinds: one object, two counted, two related,
	// three counted, three related.
	kinds       [5]float64
	colourJit   int
	bgLo, bgHi  int // background grey range
	bgTint      int // per-channel background jitter
	noise       int
	maxRotation float64 // radians
}

func specFor(d Difficulty) synthSpec {
	def := synthSpec{
		shapes: 5, colours: 6,
		sizeWords: []string{"small", "large"},
		// Nominal radii as fractions of the side: at the 40-pixel images of
		// `coca train` a small object is about 10 pixels across, the least
		// at which its shape can be told at a glance.
		sizeFracs:  []float64{0.13, 0.21},
		sizeJitter: 0.08,
		kinds:      [5]float64{0.25, 0.10, 0.65, 0, 0},
		colourJit:  14,
		bgLo:       30, bgHi: 80, bgTint: 6,
	}
	switch d {
	case SynthEasy:
		def.kinds = [5]float64{1, 0, 0, 0, 0}
	case SynthHard:
		def.shapes, def.colours = int(numShapes), len(synthColours)
		def.sizeWords = []string{"small", "medium", "large"}
		def.sizeFracs = []float64{0.065, 0.092, 0.125}
		def.sizeJitter = 0.06
		def.kinds = [5]float64{0.15, 0.05, 0.35, 0.05, 0.40}
		def.colourJit = 20
		def.bgLo, def.bgHi, def.bgTint = 15, 105, 12
		def.noise = 14
		def.maxRotation = 15 * math.Pi / 180
	}
	return def
}

// SynthConfig configures the synthetic dataset. The zero value is valid.
type SynthConfig struct {
	Difficulty Difficulty // default SynthDefault
	ImageSize  int        // image side in pixels; default 64, at least 16
	Seed       uint64     // seed of the training split
	TrainSize  int        // length of the training split (an epoch); default 1<<20
	// HeldOutSize is the length of the held-out split; default 512.
	HeldOutSize int
	// ZeroShotSize is the length of the zero-shot split; default 512.
	ZeroShotSize int
}

// Fixed seeds of the evaluation splits (independent of SynthConfig.Seed).
const (
	SynthHeldOutSeed  uint64 = 0x6865_6c64_6f75_7431 // "heldout1"
	SynthZeroShotSeed uint64 = 0x7a65_726f_7368_6f31 // "zerosho1"
)

// Split tags mixed into every sample's random stream.
const (
	tagTrain    uint64 = 0x9e37_79b9_7f4a_7c15
	tagHeldOut  uint64 = 0xbf58_476d_1ce4_e5b9
	tagZeroShot uint64 = 0x94d0_49bb_1331_11eb
)

// Synth is the built-in synthetic image–caption dataset, a scene distribution
// and its three splits (Train, HeldOut, ZeroShot): scenes of one to three coloured
// shapes rendered with analytic anti-aliasing, captioned compositionally
// ("a large red circle above a small blue square").
//
// Every sample is a pure function of (split seed, index): Sample(i) draws from a
// random stream seeded by the split and i alone, so it does not depend on which
// samples were drawn before, on the goroutine drawing it, or on the data-parallel
// rank. Scenes and captions are the same on every architecture (the scene
// arithmetic rounds every product); rendered pixels are the same on one
// architecture, while Go may fuse the renderer's multiply-adds differently on
// others, which can change an anti-aliased edge pixel by one level.
//
// Captions. A single object is "a <size> <colour> <shape>". Two or three objects
// of identical attributes are counted: "two small green stars". Distinct objects
// form a chain "<A> <rel> <B>" (or "<A> <rel1> <B> <rel2> <C>", meaning A rel1 B
// and B rel2 C) with rel one of "left of", "right of", "above", "below", judged
// on object centres in image coordinates (y grows downwards): "left of" means a
// smaller x centre and a horizontal offset at least twice the vertical one
// ("above": a smaller y centre, the vertical offset at least twice the
// horizontal one). The outer objects of a chain (A and C, or A and B for two)
// are named in a canonical order: the object with the smaller (shape, colour,
// size) index comes first. So every one- or two-object image has exactly one
// caption and exact caption match is a fair metric (a three-object chain of the
// hard difficulty could also be described around another middle object).
//
// Splits. Train is seeded by SynthConfig.Seed. HeldOut (retrieval and captioning
// evaluation, default 512 pairs) and ZeroShot (single objects, for zero-shot
// classification against Classes) use fixed seeds that do not depend on the
// training seed, and every split mixes its own tag into each sample's stream, so
// held-out renderings are independent of the training ones even when Seed
// equals the held-out seed (the tests check that none equals a training image). The caption space is finite (7,200 captions at the default
// difficulty), so held-out captions do recur in training: held-out images are new
// renderings (positions, jitter, background), not new captions.
type Synth struct {
	cfg  SynthConfig
	spec synthSpec
	imgs sync.Pool // *image.RGBA of the image size, for ItemCHW
}

// NewSynth returns the synthetic dataset for cfg, with defaults filled in.
func NewSynth(cfg SynthConfig) (*Synth, error) {
	if cfg.Difficulty < 0 || int(cfg.Difficulty) >= len(difficultyNames) {
		return nil, fmt.Errorf("data: synthetic dataset: unknown difficulty %d", int(cfg.Difficulty))
	}
	if cfg.ImageSize == 0 {
		cfg.ImageSize = 64
	}
	if cfg.ImageSize < 16 || cfg.ImageSize > 4096 {
		return nil, fmt.Errorf("data: synthetic dataset: image size %d outside [16, 4096]", cfg.ImageSize)
	}
	if cfg.TrainSize == 0 {
		cfg.TrainSize = 1 << 20
	}
	if cfg.HeldOutSize == 0 {
		cfg.HeldOutSize = 512
	}
	if cfg.ZeroShotSize == 0 {
		cfg.ZeroShotSize = 512
	}
	if cfg.TrainSize < 0 || cfg.HeldOutSize < 0 || cfg.ZeroShotSize < 0 {
		return nil, fmt.Errorf("data: synthetic dataset: negative split size (train %d, held-out %d, zero-shot %d)",
			cfg.TrainSize, cfg.HeldOutSize, cfg.ZeroShotSize)
	}
	return &Synth{cfg: cfg, spec: specFor(cfg.Difficulty)}, nil
}

// Config returns the configuration with defaults filled in.
func (s *Synth) Config() SynthConfig { return s.cfg }

// ImageSize returns the image side in pixels.
func (s *Synth) ImageSize() int { return s.cfg.ImageSize }

// Train returns the training split (seeded by SynthConfig.Seed).
func (s *Synth) Train() *SynthSplit {
	return &SynthSplit{s: s, name: "train", seed: s.cfg.Seed, tag: tagTrain, n: s.cfg.TrainSize}
}

// HeldOut returns the fixed held-out split (seed SynthHeldOutSeed).
func (s *Synth) HeldOut() *SynthSplit {
	return &SynthSplit{s: s, name: "held-out", seed: SynthHeldOutSeed, tag: tagHeldOut, n: s.cfg.HeldOutSize}
}

// ZeroShot returns the fixed zero-shot split (seed SynthZeroShotSeed): single
// objects only, each labelled with its class (Label, Labels).
func (s *Synth) ZeroShot() *SynthSplit {
	return &SynthSplit{s: s, name: "zero-shot", seed: SynthZeroShotSeed, tag: tagZeroShot, n: s.cfg.ZeroShotSize, single: true}
}

// ShapeNames returns the shape names of the difficulty, in index order.
func (s *Synth) ShapeNames() []string { return append([]string(nil), shapeNames[:s.spec.shapes]...) }

// ColourNames returns the colour names of the difficulty, in index order.
func (s *Synth) ColourNames() []string {
	out := make([]string, s.spec.colours)
	for i := range out {
		out[i] = synthColours[i].name
	}
	return out
}

// SizeNames returns the size words of the difficulty, smallest first.
func (s *Synth) SizeNames() []string { return append([]string(nil), s.spec.sizeWords...) }

// Classes returns the zero-shot classes: the caption of every single object,
// "a <size> <colour> <shape>", indexed by (shape*colours + colour)*sizes + size.
// Label and SynthSplit.Labels give a single-object sample's class.
func (s *Synth) Classes() []string {
	sp := &s.spec
	out := make([]string, 0, sp.shapes*sp.colours*len(sp.sizeWords))
	for sh := 0; sh < sp.shapes; sh++ {
		for c := 0; c < sp.colours; c++ {
			for z := range sp.sizeWords {
				o := Object{Shape: Shape(sh), Colour: c, Size: z}
				out = append(out, s.phrase(&o))
			}
		}
	}
	return out
}

// NumCaptions returns the number of distinct captions the difficulty can produce.
func (s *Synth) NumCaptions() int {
	sp := &s.spec
	k := sp.shapes * sp.colours * len(sp.sizeWords)
	n := 0
	if sp.kinds[0] > 0 {
		n += k
	}
	if sp.kinds[1] > 0 {
		n += k
	}
	if sp.kinds[2] > 0 {
		n += k * (k - 1) / 2 * 4
	}
	if sp.kinds[3] > 0 {
		n += k
	}
	if sp.kinds[4] > 0 {
		// hub B, unordered distinct outer pair {A, C} both distinct from B, 4x4 relations.
		n += k * ((k - 1) * (k - 2) / 2) * 16
	}
	return n
}

// Label returns the zero-shot class of a single-object scene (an index into
// Classes), or -1 for a scene with more than one object.
func (s *Synth) Label(sc *Scene) int {
	if len(sc.Objects) != 1 {
		return -1
	}
	o := &sc.Objects[0]
	return (int(o.Shape)*s.spec.colours+o.Colour)*len(s.spec.sizeWords) + o.Size
}

func (s *Synth) phrase(o *Object) string {
	return "a " + s.spec.sizeWords[o.Size] + " " + synthColours[o.Colour].name + " " + shapeNames[o.Shape]
}

// SynthSplit is one split of the synthetic dataset. It implements Dataset.
type SynthSplit struct {
	s      *Synth
	name   string
	seed   uint64
	tag    uint64
	n      int
	single bool
}

// Name returns "train", "held-out" or "zero-shot".
func (sp *SynthSplit) Name() string { return sp.name }

// Len returns the number of samples of the split.
func (sp *SynthSplit) Len() int { return sp.n }

// Synth returns the dataset the split belongs to.
func (sp *SynthSplit) Synth() *Synth { return sp.s }

// ImageSize returns the image side in pixels.
func (sp *SynthSplit) ImageSize() int { return sp.s.cfg.ImageSize }

func (sp *SynthSplit) check(fn string, i int) {
	if i < 0 || i >= sp.n {
		panic(fmt.Sprintf("data: SynthSplit.%s: index %d out of range [0, %d) of the %s split", fn, i, sp.n, sp.name))
	}
}

// Scene returns the description of sample i.
func (sp *SynthSplit) Scene(i int) Scene {
	sp.check("Scene", i)
	r := synthStream(sp.seed, sp.tag, uint64(i))
	return sp.s.scene(&r, sp.single)
}

// Sample renders sample i and returns it with its caption.
func (sp *SynthSplit) Sample(i int) (*image.RGBA, string) {
	sc := sp.Scene(i)
	n := sp.s.cfg.ImageSize
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	sp.s.Render(img, &sc)
	return img, sc.Caption
}

// Item implements Dataset; it never fails.
func (sp *SynthSplit) Item(i int) (image.Image, string, error) {
	img, c := sp.Sample(i)
	return img, c, nil
}

// ItemCHW renders sample i into dst as normalised (3, S, S) floats, exactly
// what Preprocess gives for the rendered image at its own size S, and returns
// the caption. dst must hold 3*S*S values. It implements CHWDataset.
func (sp *SynthSplit) ItemCHW(dst []float32, i int) (string, error) {
	n := sp.s.cfg.ImageSize
	if len(dst) != 3*n*n {
		panic(fmt.Sprintf("data: SynthSplit.ItemCHW: len(dst) = %d, want 3*%d*%d", len(dst), n, n))
	}
	sc := sp.Scene(i)
	img, _ := sp.s.imgs.Get().(*image.RGBA)
	if img == nil {
		img = image.NewRGBA(image.Rect(0, 0, n, n))
	}
	sp.s.Render(img, &sc) // sets every pixel
	RGBAToCHW(dst, img)
	sp.s.imgs.Put(img)
	return sc.Caption, nil
}

// Caption returns the caption of sample i without rendering it.
func (sp *SynthSplit) Caption(i int) string { return sp.Scene(i).Caption }

// Captions returns the captions of all samples in index order (for the
// held-out split: the caption list of retrieval and exact-match evaluation).
func (sp *SynthSplit) Captions() []string {
	out := make([]string, sp.n)
	for i := range out {
		out[i] = sp.Caption(i)
	}
	return out
}

// Labels returns the zero-shot class of every sample (an index into
// Synth.Classes), -1 for samples with more than one object.
func (sp *SynthSplit) Labels() []int {
	out := make([]int, sp.n)
	for i := range out {
		sc := sp.Scene(i)
		out[i] = sp.s.Label(&sc)
	}
	return out
}

// RGBAToCHW writes the normalised (3, H, W) floats of img (alpha ignored) to
// dst, as Preprocess does after its resize.
func RGBAToCHW(dst []float32, img *image.RGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := w * h
	if len(dst) != 3*n {
		panic(fmt.Sprintf("data: RGBAToCHW: len(dst) = %d, want 3*%d*%d", len(dst), h, w))
	}
	lut := &chwLUT
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:]
	k := 0
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+3 : 4*x+3]
			r[k] = lut[0][p[0]]
			g[k] = lut[1][p[1]]
			b[k] = lut[2][p[2]]
			k++
		}
	}
}

var chwLUT = func() (t [3][256]float32) {
	mean := [3]float32{MeanR, MeanG, MeanB}
	std := [3]float32{StdR, StdG, StdB}
	for c := range t {
		for v := range t[c] {
			t[c][v] = (float32(v)/255 - mean[c]) / std[c]
		}
	}
	return t
}()

// synthRNG is a PCG stream with the few draws the generator needs.
type synthRNG struct{ p rand.PCG }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func synthStream(seed, tag, index uint64) synthRNG {
	var r synthRNG
	r.p.Seed(splitmix(seed^tag), splitmix(index^splitmix(tag)))
	return r
}

func (r *synthRNG) u64() uint64 { return r.p.Uint64() }

// float returns a uniform value in [0, 1).
func (r *synthRNG) float() float64 { return float64(r.p.Uint64()>>11) * 0x1p-53 }

// uniform returns a uniform value in [lo, hi).
func (r *synthRNG) uniform(lo, hi float64) float64 { return lo + float64((hi-lo)*r.float()) }

// intn returns a uniform int in [0, n) for small n.
func (r *synthRNG) intn(n int) int { return int((r.p.Uint64() >> 32) * uint64(n) >> 32) }

// pick draws an index with probability proportional to w.
func (r *synthRNG) pick(w []float64) int {
	total := 0.0
	for _, v := range w {
		total += v
	}
	u := r.float() * total
	for i, v := range w {
		if u < v {
			return i
		}
		u -= v
	}
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			return i
		}
	}
	return 0
}

// drawObject draws the attributes, radius, rotation and colour of an object.
func (s *Synth) drawObject(r *synthRNG) Object {
	sp := &s.spec
	o := Object{Shape: Shape(r.intn(sp.shapes)), Colour: r.intn(sp.colours), Size: r.intn(len(sp.sizeWords))}
	s.jitterObject(r, &o)
	return o
}

func (s *Synth) jitterObject(r *synthRNG, o *Object) {
	sp := &s.spec
	size := float64(s.cfg.ImageSize)
	o.R = size * sp.sizeFracs[o.Size] * (1 + r.uniform(-sp.sizeJitter, sp.sizeJitter))
	if sp.maxRotation > 0 {
		o.Angle = r.uniform(-sp.maxRotation, sp.maxRotation)
	}
	base := synthColours[o.Colour].rgb
	for c := range 3 {
		v := int(base[c]) + r.intn(2*sp.colourJit+1) - sp.colourJit
		o.RGB[c] = uint8(min(255, max(0, v)))
	}
}

// scene draws a scene from r. Attributes and relations are drawn first, then
// positions; a configuration that does not fit the image after 64 placement
// tries is redrawn whole.
func (s *Synth) scene(r *synthRNG, single bool) Scene {
	sp := &s.spec
	var sc Scene
	bg := sp.bgLo + r.intn(sp.bgHi-sp.bgLo+1)
	for c := range 3 {
		v := bg + r.intn(2*sp.bgTint+1) - sp.bgTint
		sc.Background[c] = uint8(min(255, max(0, v)))
	}
	sc.Noise = sp.noise
	sc.NoiseSeed = r.u64()
	for attempt := 0; ; attempt++ {
		kind := 0
		if !single && attempt < 64 {
			kind = r.pick(sp.kinds[:])
		}
		sc.Objects, sc.Relations, sc.Counted = sc.Objects[:0], sc.Relations[:0], false
		switch kind {
		case 0:
			sc.Objects = append(sc.Objects, s.drawObject(r))
		case 1, 3: // identical objects, counted
			o := s.drawObject(r)
			sc.Objects = append(sc.Objects, o)
			for k := 1; k < 2+(kind-1)/2; k++ {
				p := o
				s.jitterObject(r, &p)
				sc.Objects = append(sc.Objects, p)
			}
			sc.Counted = true
		case 2, 4: // distinct objects in a chain
			n := 2 + (kind-2)/2
			for len(sc.Objects) < n {
				o := s.drawObject(r)
				dup := false
				for k := range sc.Objects {
					dup = dup || sc.Objects[k].sameKind(&o)
				}
				if !dup {
					sc.Objects = append(sc.Objects, o)
				}
			}
			// Canonical order of the outer objects.
			if last := len(sc.Objects) - 1; sc.Objects[last].key() < sc.Objects[0].key() {
				sc.Objects[0], sc.Objects[last] = sc.Objects[last], sc.Objects[0]
			}
			for k := 0; k < n-1; k++ {
				sc.Relations = append(sc.Relations, Relation(r.intn(4)))
			}
		}
		if s.place(r, &sc) {
			break
		}
	}
	sc.Caption = s.caption(&sc)
	return sc
}

// place positions the objects of sc; false if no placement was found.
func (s *Synth) place(r *synthRNG, sc *Scene) bool {
	size := float64(s.cfg.ImageSize)
	margin := float64(0.02 * size)
	gap := float64(0.03 * size)
	obj := sc.Objects
	inside := func(o *Object) bool {
		e := o.extent() + margin
		return o.X >= e && o.X <= size-e && o.Y >= e && o.Y <= size-e
	}
	uniformPos := func(o *Object) bool {
		e := o.extent() + margin
		if 2*e > size {
			return false
		}
		o.X, o.Y = r.uniform(e, size-e), r.uniform(e, size-e)
		return true
	}
	apart := func(k int) bool {
		for j := 0; j < k; j++ {
			if dist2(&obj[k], &obj[j]) < sq(obj[k].extent()+obj[j].extent()+gap) {
				return false
			}
		}
		return true
	}
	for try := 0; try < 64; try++ {
		ok := true
		if len(sc.Relations) == 0 {
			for k := range obj {
				if ok = uniformPos(&obj[k]) && apart(k); !ok {
					break
				}
			}
		} else {
			// Objects[1] is the hub; the others are placed relative to it.
			hub := &obj[1]
			if !uniformPos(hub) {
				return false
			}
			for k := 0; k < len(obj) && ok; k++ {
				if k == 1 {
					continue
				}
				rel := sc.Relations[0] // Objects[0] relative to the hub
				if k == 2 {
					rel = sc.Relations[1].inverse() // hub rel1 Objects[2]
				}
				o := &obj[k]
				minSep := o.extent() + hub.extent() + gap
				sep := r.uniform(minSep, minSep+float64(0.3*size))
				perp := float64(r.uniform(-0.45, 0.45) * sep)
				switch rel {
				case LeftOf:
					o.X, o.Y = hub.X-sep, hub.Y+perp
				case RightOf:
					o.X, o.Y = hub.X+sep, hub.Y+perp
				case Above:
					o.X, o.Y = hub.X+perp, hub.Y-sep
				case Below:
					o.X, o.Y = hub.X+perp, hub.Y+sep
				}
				ok = inside(o)
				if ok && k == 2 {
					ok = dist2(o, &obj[0]) >= sq(o.extent()+obj[0].extent()+gap)
				}
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// sq and dist2 round every product (explicit conversions forbid fused
// multiply-adds), so placement decisions, and with them the scenes and
// captions, are the same on every architecture.
func sq(x float64) float64 { return float64(x * x) }

func dist2(a, b *Object) float64 { return sq(a.X-b.X) + sq(a.Y-b.Y) }

func (s *Synth) caption(sc *Scene) string {
	var b strings.Builder
	if sc.Counted {
		o := &sc.Objects[0]
		b.WriteString([...]string{"", "one", "two", "three"}[len(sc.Objects)])
		b.WriteString(" " + s.spec.sizeWords[o.Size] + " " + synthColours[o.Colour].name + " " + shapePlurals[o.Shape])
		return b.String()
	}
	for k := range sc.Objects {
		if k > 0 {
			b.WriteString(" " + relationNames[sc.Relations[k-1]] + " ")
		}
		b.WriteString(s.phrase(&sc.Objects[k]))
	}
	return b.String()
}

// Render draws sc into dst, whose bounds must be the image size square at the
// origin: the background, then each object with anti-aliased edges (coverage
// from the signed distance to the shape's outline), then the noise.
func (s *Synth) Render(dst *image.RGBA, sc *Scene) {
	n := s.cfg.ImageSize
	if dst.Rect != image.Rect(0, 0, n, n) {
		panic(fmt.Sprintf("data: Synth.Render: image bounds %v, want %v", dst.Rect, image.Rect(0, 0, n, n)))
	}
	bg := [4]uint8{sc.Background[0], sc.Background[1], sc.Background[2], 255}
	row0 := dst.Pix[:4*n]
	for x := 0; x < n; x++ {
		copy(row0[4*x:4*x+4], bg[:])
	}
	for y := 1; y < n; y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*n], row0)
	}
	var poly [12][2]float64
	for k := range sc.Objects {
		o := &sc.Objects[k]
		verts := shapePolygon(o, poly[:0])
		e := o.extent() + 1
		x0, x1 := max(0, int(math.Floor(o.X-e))), min(n, int(math.Ceil(o.X+e))+1)
		y0, y1 := max(0, int(math.Floor(o.Y-e))), min(n, int(math.Ceil(o.Y+e))+1)
		sin, cos := math.Sincos(-o.Angle)
		cr, cg, cb := float64(o.RGB[0]), float64(o.RGB[1]), float64(o.RGB[2])
		for y := y0; y < y1; y++ {
			py := float64(y) + 0.5 - o.Y
			row := dst.Pix[y*dst.Stride:]
			for x := x0; x < x1; x++ {
				px := float64(x) + 0.5 - o.X
				var d float64
				switch o.Shape {
				case Circle:
					d = math.Hypot(px, py) - o.R
				case Ring:
					d = math.Abs(math.Hypot(px, py)-0.775*o.R) - 0.225*o.R
				case Square, Cross:
					// rotate into the shape frame
					qx, qy := cos*px-sin*py, sin*px+cos*py
					if o.Shape == Square {
						d = boxSDF(qx, qy, 0.86*o.R, 0.86*o.R)
					} else {
						d = min(boxSDF(qx, qy, o.R, 0.34*o.R), boxSDF(qx, qy, 0.34*o.R, o.R))
					}
				default:
					d = polygonSDF(px, py, verts)
				}
				a := 0.5 - d
				if a <= 0 {
					continue
				}
				p := row[4*x : 4*x+3 : 4*x+3]
				if a >= 1 {
					p[0], p[1], p[2] = o.RGB[0], o.RGB[1], o.RGB[2]
					continue
				}
				p[0] = uint8(float64(p[0]) + (cr-float64(p[0]))*a + 0.5)
				p[1] = uint8(float64(p[1]) + (cg-float64(p[1]))*a + 0.5)
				p[2] = uint8(float64(p[2]) + (cb-float64(p[2]))*a + 0.5)
			}
		}
	}
	if sc.Noise > 0 {
		var r synthRNG
		r.p.Seed(sc.NoiseSeed, 0x6e6f697365) // "noise"
		span := uint64(2*sc.Noise + 1)
		for y := 0; y < n; y++ {
			row := dst.Pix[y*dst.Stride : y*dst.Stride+4*n]
			for x := 0; x < n; x++ {
				u := r.u64()
				for c := range 3 {
					v := int(row[4*x+c]) + int(((u>>(21*c))&0x1fffff)*span>>21) - sc.Noise
					row[4*x+c] = uint8(min(255, max(0, v)))
				}
			}
		}
	}
}

// boxSDF is the signed distance from (x, y) to the box |x| <= hx, |y| <= hy.
func boxSDF(x, y, hx, hy float64) float64 {
	dx, dy := math.Abs(x)-hx, math.Abs(y)-hy
	out := math.Hypot(max(dx, 0), max(dy, 0))
	return out + min(max(dx, dy), 0)
}

// shapePolygon appends the vertices, relative to the centre, of the polygonal
// shapes (triangle, star, diamond, hexagon); nil for the others.
func shapePolygon(o *Object, v [][2]float64) [][2]float64 {
	var n int
	var rOuter, rInner float64
	switch o.Shape {
	case Triangle:
		n, rOuter = 3, 1.2*o.R
	case Star:
		n, rOuter, rInner = 5, 1.25*o.R, 0.5*o.R
	case Diamond:
		// a rhombus, taller than wide
		s, c := math.Sincos(o.Angle)
		for _, p := range [][2]float64{{0, -1.2}, {0.8, 0}, {0, 1.2}, {-0.8, 0}} {
			x, y := p[0]*o.R, p[1]*o.R
			v = append(v, [2]float64{c*x - s*y, s*x + c*y})
		}
		return v
	case Hexagon:
		n, rOuter = 6, 1.05*o.R
	default:
		return nil
	}
	step := 2 * math.Pi / float64(n)
	for k := 0; k < n; k++ {
		// first vertex points up (negative y)
		t := o.Angle - math.Pi/2 + float64(k)*step
		s, c := math.Sincos(t)
		v = append(v, [2]float64{rOuter * c, rOuter * s})
		if rInner > 0 {
			s, c = math.Sincos(t + step/2)
			v = append(v, [2]float64{rInner * c, rInner * s})
		}
	}
	return v
}

// polygonSDF is the signed distance from (x, y) to the simple polygon v:
// negative inside, by the even-odd rule.
func polygonSDF(x, y float64, v [][2]float64) float64 {
	d := math.Inf(1)
	inside := false
	j := len(v) - 1
	for i := range v {
		ax, ay := v[i][0], v[i][1]
		ex, ey := v[j][0]-ax, v[j][1]-ay
		wx, wy := x-ax, y-ay
		t := (wx*ex + wy*ey) / (ex*ex + ey*ey)
		t = min(1, max(0, t))
		bx, by := wx-ex*t, wy-ey*t
		d = min(d, bx*bx+by*by)
		if (ay <= y) != (v[j][1] <= y) {
			// x of the edge at height y
			if x < ax+(y-ay)*ex/ey {
				inside = !inside
			}
		}
		j = i
	}
	d = math.Sqrt(d)
	if inside {
		return -d
	}
	return d
}
