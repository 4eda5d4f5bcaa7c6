package coca

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gococa/gococa/tensor"
	"github.com/gococa/gococa/tensor/devicetest"
)

// TestInferenceLeaksNothing runs inference under a backend with a device
// backend's memory contract (devicetest: buffers counted and never
// garbage collected) and checks that the outstanding bytes, and the pooled
// bytes in use (none), are the same after every batch once the first
// batch of each kind has filled the pool: 50 caption batches after the
// first greedy, beam and top-k ones (float32 and bfloat16 weights), then
// encoding, zero-shot, the uncached references and decoding steps with
// Reorder, and the Pipeline (CaptionBatch with n best and log
// likelihoods, ScoreTokens, Embed, CrossAttention). Before buffer lifetimes were explicit, greedy captioning of
// this model grew by a constant 534 KB per batch.
func TestInferenceLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dev := devicetest.New(tensor.CurrentBackend())
	defer tensor.SetBackend(tensor.SetBackend(dev))
	base := tensor.PoolInUse() // what earlier tests left in use
	for _, weights := range []string{"f32", "bf16"} {
		t.Run(weights, func(t *testing.T) {
			m, images := tinyFixture(t) // parameters in the counted memory
			if weights == "bf16" {
				m.QuantizeBF16()
			}
			ids, b, l := fixtureText(t)
			end := fixtureEnd(t, m, images)
			cases := strategyCases(end)
			var want [][]int
			// steady runs run(0..n-1), the first warm calls filling the
			// pool, and checks the figures after each later call.
			steady := func(what string, warm, n int, run func(i int)) {
				t.Helper()
				for i := range warm {
					run(i)
				}
				bytes0, _ := dev.Outstanding()
				inUse0 := tensor.PoolInUse()
				if inUse0 != base {
					t.Fatalf("%s: %d pooled bytes still in use after the warm-up", what, inUse0-base)
				}
				for i := warm; i < n; i++ {
					run(i)
					bytes, _ := dev.Outstanding()
					if bytes != bytes0 || tensor.PoolInUse() != inUse0 {
						t.Fatalf("%s: after batch %d: %d bytes outstanding (%d in use), after the first %d (%d)",
							what, i+1, bytes, tensor.PoolInUse(), bytes0, inUse0)
					}
				}
			}
			steady("captions", 3, 53, func(i int) {
				o := cases[[]string{"greedy", "beam", "top-k"}[i%3]]
				got, err := m.Generate(images, o)
				if err != nil {
					t.Fatal(err)
				}
				if i < 3 {
					want = append(want, got[0])
				} else if !slices.Equal(got[0], want[i%3]) {
					t.Fatalf("batch %d: caption %v, before %v", i, got[0], want[i%3])
				}
			})
			steady("encoding, zero-shot, greedy", 1, 10, func(int) {
				f, tok := m.EncodeImage(images)
				m.EncodeText(ids, b, l)
				cls, err := m.ClassEmbeddings([]string{"a", "b"}, []string{"{}", "x {}"}, byteTokens, 3)
				if err != nil {
					t.Fatal(err)
				}
				m.ZeroShotProbs(f, cls)
				m.GreedyFromTokens(tok, GenerateOptions{MaxLen: 6, Start: 62, End: end})
				if _, err := m.GenerateReference(images, cases["greedy"]); err != nil {
					t.Fatal(err)
				}
				m.GreedyReference(images, 62, 3)
			})
			steady("decoder", 1, 10, func(int) {
				_, tok := m.EncodeImage(images)
				d := m.NewDecoder(tok, 5)
				next := []int{62, 62, 62, 62}
				for range 4 {
					d.Step(next)
				}
				d.Reorder([]int{1, 1, 0})
				d.Step(next[:3])
				d.Close()
			})
			var p *Pipeline
			if weights == "bf16" {
				p = openTiny(t, WithBF16())
			} else {
				p = openTiny(t)
			}
			imgs := testImages(t, 3, 32).images
			bg := context.Background()
			steady("pipeline", 3, 12, func(i int) {
				o := cases[[]string{"greedy", "beam", "top-k"}[i%3]]
				if _, err := p.CaptionBatch(bg, imgs, WithGenerateOptions(o), WithNBest(1+i%3), WithLogProb(), WithEmbedding()); err != nil {
					t.Fatal(err)
				}
				if _, err := p.ScoreTokens(bg, imgs[0], []int{62, 3, 9, 27, 63}, []int{62, 44, 63}); err != nil {
					t.Fatal(err)
				}
				if _, err := p.Embed(bg, imgs...); err != nil {
					t.Fatal(err)
				}
				if weights == "f32" {
					if _, err := p.CrossAttention(bg, imgs[1], []int{62, 5, 17, 9, 63}); err != nil {
						t.Fatal(err)
					}
				}
			})
			if bytes, allocs := dev.Outstanding(); testing.Verbose() {
				fmt.Printf("%s: %d bytes outstanding in %d allocations\n", weights, bytes, allocs)
			}
		})
	}
}
