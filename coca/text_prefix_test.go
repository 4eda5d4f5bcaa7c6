package coca

import (
	"fmt"
	"math"
	"testing"

	"github.com/gococa/gococa/tensor"
)

// TestEncodeTextPrefix checks EncodeText, which computes a batch's texts
// only up to the last position the CLS row reads (TextTower.prefix),
// against the whole-context forward pass, for both CLS masks, a batch of
// texts of different lengths and texts with padding inside. Measured max
// |diff| of the normalised features: 6e-8 (the products of fewer rows
// may take another of the GEMM's kernels); held to 1e-6.
func TestEncodeTextPrefix(t *testing.T) {
	const l = 12
	rows := [][]int{
		{5, 9, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{7, 0, 4, 8, 2, 0, 0, 0, 0, 0, 0, 0}, // a pad inside
		{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // pad only
	}
	for _, correct := range []bool{false, true} {
		m := tinyModel(t)
		m.Text.correctMask = correct
		for _, c := range []struct {
			rows []int // indices into rows
			want int   // prefix: the last non-pad id + 2, at least 1
		}{{[]int{0}, 4}, {[]int{1}, 6}, {[]int{2}, 2}, {[]int{3}, 1}, {[]int{0, 1, 2, 3}, 6}} {
			t.Run(fmt.Sprintf("correct=%v/rows=%v", correct, c.rows), func(t *testing.T) {
				var ids []int
				for _, r := range c.rows {
					ids = append(ids, rows[r]...)
				}
				b := len(c.rows)
				if n := m.Text.prefix(ids, b, l); n != c.want {
					t.Fatalf("prefix %d, want %d", n, c.want)
				}
				got := m.EncodeText(ids, b, l).Data()
				s := tensor.NoGrad()
				lat, tok := m.Text.forward(s, ids, b, l)
				want := tensor.Normalize(lat, 1e-12).Data()
				tensor.Drop(tok)
				worst := 0.0
				for i := range want {
					worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
				}
				s.End()
				t.Logf("max |diff| %.1e", worst)
				if worst > 1e-6 || math.IsNaN(worst) {
					t.Errorf("EncodeText differs from the whole context by %.3g", worst)
				}
			})
		}
	}
	// No trailing pad: the whole context.
	full := make([]int, l)
	for i := range full {
		full[i] = 1 + i
	}
	if n := tinyModel(t).Text.prefix(full, 1, l); n != l {
		t.Errorf("prefix of an unpadded text: %d, want %d", n, l)
	}
}
