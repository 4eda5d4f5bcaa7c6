// Command hostile writes the hostile inputs of internal/hostile to a
// directory, for scripts/hostile.sh to run the CLI on, or (-corpus) the fuzz
// corpus of the same cases into the packages' testdata/fuzz:
//
//	go run ./scripts/hostile -out /tmp/hostile
//	go run ./scripts/hostile -corpus .
//
// It writes pickle_doubling.bin, pickle_nested.bin, pickle_set.bin,
// pickle_ordereddict.bin, pickle_bigkeys.bin,
// deflate_bomb.bin, deflate_view.bin, config_<key>.json and
// config_<key>.safetensors for each hostile config value, the directories
// png_rgb, png_rgba and png_rgba16 (one valid 9400×9400 PNG each),
// png_limit (two 5700×5700 PNGs, just under the default memory limit) and ok/
// (a small valid image). The FIFO case needs mkfifo and is made by the script.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/gococa/gococa/internal/hostile"
)

func main() {
	out := flag.String("out", "", "directory to write the cases to (created)")
	corpus := flag.String("corpus", "", "write the fuzz corpus of the hostile cases under this repository root instead (go run ./scripts/hostile -corpus .)")
	side := flag.Int("side", 9400, "side of the large PNGs")
	bomb := flag.Int64("bomb-mib", 4096, "uncompressed size of the deflate bomb's storage, in MiB")
	flag.Parse()
	if *corpus != "" {
		c := hostile.Corpus()
		paths := make([]string, 0, len(c))
		for p := range c {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, path := range paths {
			b := c[path]
			p := filepath.Join(*corpus, filepath.FromSlash(path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				fail(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				fail(err)
			}
			fmt.Printf("%-70s %8d bytes\n", path, len(b))
		}
		return
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/hostile -out DIR")
		os.Exit(2)
	}
	write := func(name string, b []byte) {
		p := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			fail(err)
		}
		fmt.Printf("%-34s %10d bytes\n", name, len(b))
	}
	write("pickle_doubling.bin", hostile.Wrap(hostile.DoublingTupleKey(100)))
	write("pickle_nested.bin", hostile.Wrap(hostile.NestedTupleKey(5_000_000)))
	write("pickle_set.bin", hostile.Wrap(hostile.SetCalls(200_000, 1_000_000)))
	// Beyond the issue: OrderedDict(L) and a 1 MB string key, each repeated.
	write("pickle_ordereddict.bin", hostile.Wrap(hostile.OrderedDictCalls(100, 1_000_000)))
	write("pickle_bigkeys.bin", hostile.Wrap(hostile.BigStringKeys(1<<20, 1_000_000)))
	write("deflate_bomb.bin", hostile.DeflateBombCheckpoint(*bomb<<20))
	write("deflate_view.bin", hostile.DeflateBombView(*bomb<<20))
	for _, e := range hostile.ConfigEdits {
		cfg := hostile.Config(e)
		write("config_"+e.Name+".json", cfg)
		write("config_"+e.Name+".safetensors", hostile.Safetensors(map[string]string{"format": "pt", "coca_config": string(cfg)}))
	}
	write("png_rgb/x.png", hostile.PNG(*side, *side, false, 8))
	write("png_rgba/x.png", hostile.PNG(*side, *side, true, 8))
	write("png_rgba16/x.png", hostile.PNG(*side, *side, true, 16))
	// Two images just under the default memory limit (7 bytes per pixel
	// to decode and preprocess an RGB PNG, 227 MB each): captioned, in
	// parallel.
	atLimit := hostile.PNG(5700, 5700, false, 8)
	write("png_limit/a.png", atLimit)
	write("png_limit/b.png", atLimit)
	write("ok/ok.png", hostile.PNG(64, 48, false, 8))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hostile:", err)
	os.Exit(1)
}
