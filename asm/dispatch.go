// Package asm holds the numeric kernels behind the tensor package's CPU
// backend: packed SGEMM, vector kernels and fused attention, each with a
// pure-Go reference and SIMD variants written in Go assembly.
//
// The SIMD level is chosen once at init from the CPU's features
// (klauspost/cpuid/v2). The environment variable GOCOCA_SIMD forces a level
// (generic, avx2, avx512 or neon) for tests and benchmarks; asking for a
// level this CPU or build lacks falls back to generic with a warning on
// stderr. Without GOCOCA_SIMD the best level the CPU has is used: AVX-512F
// where present (its kernels need nothing beyond AVX-512F), else AVX2 with
// FMA, else NEON on arm64, else generic.
package asm

import (
	"fmt"
	"os"
	"strings"
)

// Level is a SIMD instruction-set level a kernel variant is written for.
type Level int

const (
	Generic Level = iota // pure Go, always available
	AVX2                 // amd64 AVX2 + FMA3
	AVX512               // amd64 AVX-512F
	NEON                 // arm64 Advanced SIMD
)

func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	case NEON:
		return "neon"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel parses a GOCOCA_SIMD value.
func ParseLevel(s string) (Level, error) {
	for _, l := range []Level{Generic, AVX2, AVX512, NEON} {
		if strings.EqualFold(s, l.String()) {
			return l, nil
		}
	}
	return Generic, fmt.Errorf("asm: unknown SIMD level %q (want generic, avx2, avx512 or neon)", s)
}

// level is the level every dispatching kernel uses. It is set once at init.
var level = chooseLevel()

// Current reports the level in use.
func Current() Level { return level }

// Available lists the levels this CPU and build can run, Generic first.
// Tests run every variant in this list against the generic reference.
func Available() []Level {
	return append([]Level{Generic}, hostLevels()...)
}

// Supported reports whether l can run here.
func Supported(l Level) bool {
	for _, a := range Available() {
		if a == l {
			return true
		}
	}
	return false
}

// SetLevel forces a level (tests and benchmarks) and returns the previous
// one. It panics if l is not supported here. It is not safe to call while
// kernels run on other goroutines.
func SetLevel(l Level) Level {
	if !Supported(l) {
		panic(fmt.Sprintf("asm: SetLevel(%v): not supported on this CPU/build", l))
	}
	old := level
	level = l
	return old
}

func chooseLevel() Level {
	if s := os.Getenv("GOCOCA_SIMD"); s != "" {
		l, err := ParseLevel(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gococa:", err, "- using", defaultLevel())
			return defaultLevel()
		}
		if !Supported(l) {
			fmt.Fprintf(os.Stderr, "gococa: GOCOCA_SIMD=%s is not supported on this CPU/build; using generic\n", s)
			return Generic
		}
		return l
	}
	return defaultLevel()
}

// defaultLevel is the best level this CPU and build run.
func defaultLevel() Level {
	ls := hostLevels()
	if len(ls) == 0 {
		return Generic
	}
	return ls[len(ls)-1]
}
