package coca

import (
	"runtime"
	"sync"
	"weak"

	"github.com/gococa/gococa/asm"
	"github.com/gococa/gococa/nn"
	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/safetensors"
)

// QuantizeBF16 switches the model to bfloat16 weights: every weight matrix
// (each parameter with two or more axes: projections, embeddings, the patch
// convolution) is rounded to the nearest bfloat16 (ties to even), in place,
// and the matrices a decoding step reads (both text stacks and the
// vocabulary projection) are also kept packed as 16-bit values, which the
// Decoder multiplies with asm.GemvBF16, accumulating in float32. Biases,
// LayerNorm parameters and class/positional vectors stay float32.
//
// Encoders and training keep their float32 kernels, now over the rounded
// values, so every path computes with the same bfloat16 weights; only
// decoding streams half the bytes. Loading new weights afterwards leaves
// the packed copies stale: call QuantizeBF16 again. It is idempotent.
func (m *Model) QuantizeBF16() {
	for _, p := range m.Params() {
		if p.Tensor.Dims() < 2 {
			continue
		}
		d := p.Tensor.Data()
		for i, v := range d {
			d[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v))
		}
	}
	s := &bf16Store{w: map[*tensor.Tensor]bf16Matrix{}}
	pack := func(w *tensor.Tensor) {
		if w != nil {
			s.w[w] = packBF16(w.Data(), w.Dim(0), w.Dim(1))
		}
	}
	blocks := append(append(append([]*nn.ResidualAttentionBlock{}, m.Text.Transformer.Resblocks...), m.TextDecoder.Resblocks...), m.TextDecoder.CrossAttn...)
	for _, blk := range blocks {
		a := blk.Attn
		pack(a.InProjWeight)
		pack(a.QProjWeight)
		pack(a.OutProj.Weight)
		pack(blk.MLP.CFc.Weight)
		pack(blk.MLP.CProj.Weight)
	}
	// The vocabulary projection is (W, V); the step needs (V, W) rows.
	tp := m.TextDecoder.TextProjection
	w, v := tp.Dim(0), tp.Dim(1)
	tr := make([]float32, v*w)
	src := tp.Data()
	for i := 0; i < w; i++ {
		for j := 0; j < v; j++ {
			tr[j*w+i] = src[i*v+j]
		}
	}
	s.w[tp] = packBF16(tr, v, w)
	registerBF16(m, s)
}

// IsBF16 reports whether QuantizeBF16 has been called on m.
func (m *Model) IsBF16() bool { return lookupBF16(m) != nil }

// bf16Store maps a weight tensor to its packed copy.
type bf16Store struct {
	w map[*tensor.Tensor]bf16Matrix
}

// bf16Matrix is an (out, in) matrix in bfloat16.
type bf16Matrix struct {
	data    []uint16
	out, in int
}

func packBF16(v []float32, out, in int) bf16Matrix {
	p := make([]uint16, len(v))
	for i, x := range v {
		p[i] = safetensors.Float32ToBF16(x)
	}
	return bf16Matrix{p, out, in}
}

// The packed copies live beside the model without a field in Model: a
// registry keyed by a weak pointer, emptied when the model is collected.
var bf16Registry = struct {
	sync.Mutex
	m map[weak.Pointer[Model]]*bf16Store
}{m: map[weak.Pointer[Model]]*bf16Store{}}

func registerBF16(m *Model, s *bf16Store) {
	k := weak.Make(m)
	bf16Registry.Lock()
	_, had := bf16Registry.m[k]
	bf16Registry.m[k] = s
	bf16Registry.Unlock()
	if !had {
		runtime.AddCleanup(m, func(k weak.Pointer[Model]) {
			bf16Registry.Lock()
			delete(bf16Registry.m, k)
			bf16Registry.Unlock()
		}, k)
	}
}

func lookupBF16(m *Model) *bf16Store {
	bf16Registry.Lock()
	defer bf16Registry.Unlock()
	return bf16Registry.m[weak.Make(m)]
}

// gemvParallelMin is the number of multiply-adds above which a product is
// split between goroutines.
const gemvParallelMin = 1 << 16

// linear returns x·Wᵀ + b for x (..., in) using rows [lo, hi) of the packed
// matrix (all rows when hi is 0).
func (p bf16Matrix) linear(x, b *tensor.Tensor, lo, hi int) *tensor.Tensor {
	if hi == 0 {
		hi = p.out
	}
	n, k := hi-lo, p.in
	shape := append(append([]int(nil), x.Shape()[:x.Dims()-1]...), n)
	out := tensor.New(shape...)
	xd := x.Data()
	rows := len(xd) / k
	var bias []float32
	if b != nil {
		bias = b.Data()[lo:hi]
	}
	w := p.data[lo*k : hi*k]
	y := out.Data()
	workers := runtime.GOMAXPROCS(0)
	if rows*n*k < gemvParallelMin || workers < 2 || n < 2*workers {
		asm.GemvBF16(y, xd, w, bias, rows, n, k)
		return out
	}
	// Each worker computes a block of outputs for every row into its own
	// buffer (rows × its outputs), then copies it into place.
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for o0 := 0; o0 < n; o0 += chunk {
		o1 := min(o0+chunk, n)
		wg.Add(1)
		go func(o0, o1 int) {
			defer wg.Done()
			var bb []float32
			if bias != nil {
				bb = bias[o0:o1]
			}
			cols := o1 - o0
			if rows == 1 {
				asm.GemvBF16(y[o0:o1], xd, w[o0*k:o1*k], bb, 1, cols, k)
				return
			}
			tmp := make([]float32, rows*cols)
			asm.GemvBF16(tmp, xd, w[o0*k:o1*k], bb, rows, cols, k)
			for r := 0; r < rows; r++ {
				copy(y[r*n+o0:r*n+o1], tmp[r*cols:(r+1)*cols])
			}
		}(o0, o1)
	}
	wg.Wait()
	return out
}
