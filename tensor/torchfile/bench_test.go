package torchfile

import "testing"

// BenchmarkLoad measures loading the tiny CoCa state dict (155k float32
// parameters, 129 tensors) from a torch.save file.
func BenchmarkLoad(b *testing.B) {
	for _, file := range []string{"tiny_f32.bin", "tiny_f16.bin"} {
		b.Run("file="+file, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load("testdata/" + file); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
