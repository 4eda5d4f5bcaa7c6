package train_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/train"
)

// Train the default model on the built-in dataset, stop cleanly on Ctrl-C
// (the run writes a checkpoint; Resume continues it), and watch the steps.
func ExampleRun() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := train.Run(ctx, train.Options{
		Out: "runs/shapes",
		OnStep: func(s train.StepInfo) error {
			if s.Eval != nil {
				fmt.Printf("step %d: %s\n", s.Step, s.Eval.Summary())
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trained", res.Steps, "steps; report in runs/shapes/report.html")
}

// Open_clip's caption-only fine-tune: a zero contrastive weight must be
// named in Explicit, since a zero field otherwise means its default.
func ExampleRun_captionOnly() {
	_, err := train.Run(context.Background(), train.Options{
		Out:           "runs/captions",
		Data:          "train.csv", // tab-separated, header filepath<TAB>title
		Init:          "open_clip_pytorch_model.bin",
		Config:        "coca_ViT-B-32",
		CaptionWeight: 1,
		LR:            1e-5,
		WeightDecay:   0.1,
		Warmup:        1000,
		Explicit:      map[string]bool{"contrastive-weight": true},
	})
	if err != nil {
		log.Fatal(err)
	}
}

// A frozen-encoder probe on a labelled folder (one subdirectory per class).
func ExampleTrainProbe() {
	cfg, err := coca.LoadConfig("runs/shapes/config.json")
	if err != nil {
		log.Fatal(err)
	}
	m := coca.New(cfg)
	if err := m.LoadSafetensors("runs/shapes/model.safetensors"); err != nil {
		log.Fatal(err)
	}
	ds, err := data.OpenImageFolder("shapes", data.ImageOptions{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := train.TrainProbe(context.Background(), m, ds, train.ProbeOptions{Head: train.ProbeAttentional})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("held-out top-1 %.3f\n", res.HeldOutTop1)
	if err := res.Head.Save("shapes-probe.safetensors", res.HeldOutTop1); err != nil {
		log.Fatal(err)
	}
}
