//go:build !cuda || !cgo

package cuda

import (
	"errors"

	"github.com/gococa/gococa/tensor"
)

var errNoCUDA = errors.New("gococa was built without CUDA support (rebuild with -tags cuda)")

// Probe reports why no CUDA device can be used: in this build, always
// that the binary was built without CUDA support.
func Probe() error { return errNoCUDA }

// Available reports whether a CUDA device can be used (never in this
// build).
func Available() bool { return false }

// New returns an error: this binary was built without CUDA support.
func New(o Options) (tensor.Backend, error) { return nil, errNoCUDA }

// LauncherDevice reports that this binary was built without CUDA support.
func LauncherDevice() (int, error) { return 0, errNoCUDA }
