package tensor

import (
	"fmt"
	"strings"
	"testing"
)

// TestShapeMisusePanics checks that each op rejects bad shapes with a
// message naming the op and the shapes involved.
func TestShapeMisusePanics(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want []string
	}{
		{"Add", func() { Add(New(2, 3), New(4, 3)) }, []string{"Add", "[2 3]", "[4 3]"}},
		{"Mul", func() { Mul(New(5), New(3)) }, []string{"Mul", "[5]", "[3]"}},
		{"MatMul", func() { MatMul(New(2, 3), New(4, 5), false, false) }, []string{"MatMul", "[2 3]", "[4 5]"}},
		{"MatMul batch", func() { MatMul(New(2, 2, 3), New(3, 3, 5), false, false) }, []string{"MatMul", "[2]", "[3]"}},
		{"Linear", func() { Linear(New(2, 3), New(4, 5), nil) }, []string{"Linear", "[2 3]", "[4 5]"}},
		{"LayerNorm", func() { LayerNorm(New(2, 3), New(4), New(4), 1e-5) }, []string{"LayerNorm", "[2 3]", "[4]"}},
		{"Reshape", func() { Reshape(New(2, 3), 4, 2) }, []string{"Reshape", "[2 3]", "[4 2]"}},
		{"Concat", func() { Concat(0, New(2, 3), New(2, 4)) }, []string{"Concat", "[2 3]", "[2 4]"}},
		{"Slice", func() { Slice(New(2, 3), 1, 1, 5) }, []string{"Slice", "[2 3]"}},
		{"Permute", func() { Permute(New(2, 3), 0, 0) }, []string{"Permute", "[2 3]"}},
		{"Attention", func() { Attention(New(1, 2, 3, 4), New(1, 2, 5, 8), New(1, 2, 5, 8), nil, false, 0) }, []string{"Attention", "[1 2 3 4]", "[1 2 5 8]"}},
		{"Attention mask", func() { Attention(New(1, 2, 3, 4), New(1, 2, 5, 4), New(1, 2, 5, 4), New(1, 3, 4), false, 0) }, []string{"Attention", "[1 3 4]"}},
		{"CrossEntropy", func() { CrossEntropy(New(3, 5), []int{1, 2}, 0) }, []string{"CrossEntropy", "[3 5]", "2 targets"}},
		{"CrossEntropy target", func() { CrossEntropy(New(2, 5), []int{1, 7}, 0) }, []string{"CrossEntropy", "target 7", "[2 5]"}},
		{"Embedding", func() { Embedding(New(4, 3), []int{1, 4}) }, []string{"Embedding", "id 4", "[4 3]"}},
		{"Patchify", func() { Patchify(New(1, 3, 5, 5), 2) }, []string{"Patchify", "[1 3 5 5]", "patch 2"}},
		{"Sum axis", func() { Sum(New(2, 3), false, 2) }, []string{"Sum", "axis 2", "[2 3]"}},
		{"Backward non-scalar", func() { Backward(NewParam("w", 2)) }, []string{"Backward", "[2]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("no panic")
				}
				msg := fmt.Sprint(r)
				if !strings.HasPrefix(msg, "tensor: ") {
					t.Errorf("message %q lacks the package prefix", msg)
				}
				for _, w := range c.want {
					if !strings.Contains(msg, w) {
						t.Errorf("message %q does not mention %q", msg, w)
					}
				}
			}()
			c.f()
		})
	}
}
