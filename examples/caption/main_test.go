package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
)

// TestCaption runs the example on a model coca train wrote and on
// open_clip's tiny model laid out as a Hugging Face snapshot (a .bin and
// open_clip_config.json), and checks its line against the library.
func TestCaption(t *testing.T) {
	const shapes, cross = "../../coca/testdata/shapes-easy", "../../coca/testdata/shapes-easy/large-red-cross.png"
	var out bytes.Buffer
	if err := run([]string{shapes, cross}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a large red cross\n" {
		t.Errorf("trained model: %q", out.String())
	}

	out.Reset()
	const tiny = "../../coca/testdata/openclip-tiny"
	if err := run([]string{"--start", "62", "--end", "63", tiny, cross}, &out); err != nil {
		t.Fatal(err)
	}
	p, err := coca.Open(tiny, coca.WithSpecialTokens(62, 63))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := data.LoadImage(cross)
	want, err := p.Caption(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want+"\n" || len(strings.Fields(want)) < 4 {
		t.Errorf("open_clip snapshot: %q, library %q", out.String(), want)
	}

	for _, args := range [][]string{
		{shapes},
		{"../../coca/testdata/missing", cross},
		{shapes, "missing.png"},
		{tiny, cross}, // no start and end tokens for a 64-token vocabulary
	} {
		if err := run(args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
