package tensor

import (
	"math"
	"strings"
	"testing"

	"github.com/gococa/gococa/asm"
)

// TestLinearPackedInput: with bfloat16 products on a backend that packs
// a Linear's input for the weight gradient, the gradients are bit for bit
// the bfloat16 products of the unpacked operands (asm.SgemmBF16), the
// backward pass reads none of the input's values (Drop hands them back
// right after the forward pass; reading them panics), and Release returns
// the pool, packed operand included, to where it was; the same on
// CPUBF16 with float32 marks. With float32 products the input stays held;
// with a frozen weight it is free.
func TestLinearPackedInput(t *testing.T) {
	if _, ok := CurrentBackend().(packedInputs); !ok || asm.PackedBF16BLen(1, 1, 1) == 0 {
		t.Skip("the backend packs no inputs here")
	}
	const rows, in, outF = 37, 24, 40 // odd rows: a half pair at the end of k
	fill := func(t *Tensor, f func(i int) float64) *Tensor {
		for i := range t.Data() {
			t.Data()[i] = float32(f(i))
		}
		return t
	}
	run := func(prec Precision, frozen, drop bool) (p, w *Tensor, dropped bool, freed, size int64) {
		p = fill(NewParam("p", rows, in), func(i int) float64 { return math.Sin(float64(i)) * 2 })
		q := fill(NewParam("q", rows, in), func(i int) float64 { return math.Cos(float64(5 * i)) })
		w = fill(NewParam("w", outF, in), func(i int) float64 { return math.Cos(float64(3*i)) / 2 })
		c := fill(New(rows, outF), func(i int) float64 { return math.Sin(float64(7*i)) + 0.25 })
		w.SetPrecision(prec)
		if frozen {
			w.SetRequiresGrad(false)
		}
		x := Add(p, q) // an intermediate that no other op reads
		out := Linear(x, w, nil)
		size = 4 * int64(cap(x.Data())) // the pool counts a buffer's capacity
		before := PoolInUse()
		if drop {
			Drop(x)
		}
		freed = before - PoolInUse()
		if x.dropped {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(r.(string), "dropped") {
						t.Fatalf("reading a dropped input: %v, want a panic naming Drop", r)
					}
				}()
				x.Data()
			}()
		}
		BackwardRelease(Sum(Mul(out, c), false), nil)
		return p, w, x.dropped, freed, size
	}

	base := PoolInUse()
	p, w, dropped, freed, size := run(PrecisionBF16, false, true)
	if !dropped || freed != size {
		t.Fatalf("bf16: Drop of the input handed back %d bytes (dropped %v), want its %d", freed, dropped, size)
	}
	// The reference: dW = cᵀ·x and dx = c·W in bfloat16 products of the
	// unpacked operands.
	x := make([]float32, rows*in)
	cv := make([]float32, rows*outF)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))*2) + float32(math.Cos(float64(5*i)))
	}
	for i := range cv {
		cv[i] = float32(math.Sin(float64(7*i)) + 0.25)
	}
	dw := make([]float32, outF*in)
	asm.SgemmBF16(true, false, outF, in, rows, 1, cv, outF, x, in, 0, dw, in)
	dx := make([]float32, rows*in)
	asm.SgemmBF16(false, false, rows, in, outF, 1, cv, outF, w.Data(), in, 0, dx, in)
	for _, g := range []struct {
		name      string
		got, want []float32
	}{{"dW", w.Grad(), dw}, {"dx", p.Grad(), dx}} {
		for i := range g.want {
			if math.Float32bits(g.got[i]) != math.Float32bits(g.want[i]) {
				t.Fatalf("bf16 %s[%d] = %v, the unpacked product gives %v", g.name, i, g.got[i], g.want[i])
			}
		}
	}
	if PoolInUse() != base {
		t.Fatalf("%d pooled bytes in use after the graph, %d before", PoolInUse(), base)
	}

	// CPUBF16 takes every product in bfloat16 and packs whatever the mark.
	old := SetBackend(CPUBF16())
	p, w, dropped, freed, size = run(PrecisionF32, false, true)
	SetBackend(old)
	if !dropped || freed != size {
		t.Fatalf("CPUBF16: Drop of the input handed back %d bytes (dropped %v), want its %d", freed, dropped, size)
	}
	for i, g := range w.Grad() {
		if math.Float32bits(g) != math.Float32bits(dw[i]) {
			t.Fatalf("CPUBF16 dW[%d] = %v, the unpacked product gives %v", i, g, dw[i])
		}
	}

	// An input that another op holds is not packed: the Linear adds only
	// its output to the pool.
	{
		p := fill(NewParam("p", rows, in), func(i int) float64 { return math.Sin(float64(i)) })
		w := NewParam("w", outF, in)
		w.SetPrecision(PrecisionBF16)
		x := Add(p, p)
		sq := Mul(x, x) // holds x
		before := PoolInUse()
		out := Linear(x, w, nil)
		if grew := PoolInUse() - before; grew != 4*int64(cap(out.Data())) {
			t.Fatalf("Linear of a held input took %d pooled bytes, want its output's %d", grew, 4*cap(out.Data()))
		}
		BackwardRelease(Add(Sum(out, false), Sum(sq, false)), nil)
	}

	// Float32 products read the input itself: Drop leaves it.
	if _, _, dropped, freed, _ := run(PrecisionF32, false, true); dropped || freed != 0 {
		t.Fatalf("f32: Drop handed back %d bytes of an input the backward reads (dropped %v)", freed, dropped)
	}
	// A frozen weight has no gradient to take from the input.
	if _, _, dropped, freed, size := run(PrecisionF32, true, true); !dropped || freed != size {
		t.Fatalf("frozen weight: Drop handed back %d bytes (dropped %v), want the input's %d", freed, dropped, size)
	}
	if PoolInUse() != base {
		t.Fatalf("%d pooled bytes in use after the graphs, %d before", PoolInUse(), base)
	}
}
