package coca_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"path/filepath"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
)

// A model written by `coca train` (its run directory, or the
// model.safetensors in it) opens with its own config and tokenizer, and
// captions an image in one call. testdata/shapes-easy is a small model
// trained on the synthetic dataset's single shapes.
func ExampleOpen() {
	model, err := coca.Open("testdata/shapes-easy")
	if err != nil {
		log.Fatal(err)
	}
	img, err := data.LoadImage("testdata/shapes-easy/large-red-cross.png")
	if err != nil {
		log.Fatal(err)
	}
	caption, err := model.Caption(context.Background(), img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(caption)
	// Output: a large red cross
}

// An open_clip checkpoint opens the same way: here a Hugging Face hub
// snapshot folder (open_clip_pytorch_model.bin and open_clip_config.json)
// of open_clip's tiny test model. Its 64-token vocabulary is not CLIP's, so
// it needs its start and end tokens, and its captions are token ids.
func ExampleOpen_openCLIP() {
	model, err := coca.Open("testdata/openclip-tiny", coca.WithSpecialTokens(62, 63))
	if err != nil {
		log.Fatal(err)
	}
	info := model.Info()
	fmt.Println(info.Format, filepath.Base(info.Config))
	img, err := data.LoadImage("testdata/shapes-easy/large-red-cross.png")
	if err != nil {
		log.Fatal(err)
	}
	caption, err := model.Caption(context.Background(), img, coca.WithGenerateOptions(coca.GenerateOptions{Strategy: coca.StrategyGreedy, MaxLen: 6}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(caption)
	// Output:
	// pytorch open_clip_config.json
	// 55 55 42 55
}

// CaptionBatch captions many images and gives more per image: here the
// two best hypotheses of beam search, and the image embedding.
func ExamplePipeline_Caption() {
	model, err := coca.Open("testdata/shapes-easy")
	if err != nil {
		log.Fatal(err)
	}
	img, err := data.LoadImage("testdata/shapes-easy/small-green-cross.png")
	if err != nil {
		log.Fatal(err)
	}
	res, err := model.CaptionBatch(context.Background(), []image.Image{img}, coca.WithNBest(2), coca.WithEmbedding())
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range res[0].Captions {
		fmt.Println(c.Text)
	}
	fmt.Println(len(res[0].Embedding), "embedding values")
	// Output:
	// a small green cross
	// a small green triangle
	// 32 embedding values
}

// Embed and EmbedTexts give normalised embeddings: the dot product of an
// image's and a text's is their cosine similarity.
func ExamplePipeline_Embed() {
	model, err := coca.Open("testdata/shapes-easy")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	img, err := data.LoadImage("testdata/shapes-easy/large-orange-square.png")
	if err != nil {
		log.Fatal(err)
	}
	images, err := model.Embed(ctx, img)
	if err != nil {
		log.Fatal(err)
	}
	texts := []string{"a small blue circle", "a large orange square", "a large green star"}
	embs, err := model.EmbedTexts(ctx, texts...)
	if err != nil {
		log.Fatal(err)
	}
	best, bestSim := "", float32(-2)
	for i, e := range embs {
		var sim float32
		for j := range e {
			sim += e[j] * images[0][j]
		}
		if sim > bestSim {
			best, bestSim = texts[i], sim
		}
	}
	fmt.Println(best)
	// Output: a large orange square
}

// Classify picks among class names zero-shot; the template "{}" uses the
// names as they are (the default templates are OpenAI's 80 ImageNet
// prompts, "a photo of a {}." and the like).
func ExamplePipeline_Classify() {
	model, err := coca.Open("testdata/shapes-easy")
	if err != nil {
		log.Fatal(err)
	}
	img, err := data.LoadImage("testdata/shapes-easy/large-red-cross.png")
	if err != nil {
		log.Fatal(err)
	}
	classes := []string{"a large red cross", "a small red cross", "a large blue cross", "a large red circle"}
	preds, err := model.Classify(context.Background(), img, classes, "{}")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(preds[0].Class)
	// Output: a large red cross
}

// Score gives a caption's log-likelihood under the model: the better
// description scores higher.
func ExamplePipeline_Score() {
	model, err := coca.Open("testdata/shapes-easy")
	if err != nil {
		log.Fatal(err)
	}
	img, err := data.LoadImage("testdata/shapes-easy/large-red-cross.png")
	if err != nil {
		log.Fatal(err)
	}
	scores, err := model.Score(context.Background(), img, "a large red cross", "a small blue circle")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(scores[0].LogProb > scores[1].LogProb, scores[0].Tokens)
	// Output: true 5
}
