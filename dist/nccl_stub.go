//go:build !(cuda && cgo)

package dist

import "fmt"

func openNCCL(Options) (Comm, error) {
	return nil, fmt.Errorf("%w: this binary was built without CUDA; NCCL needs -tags cuda (and cgo)", ErrNotBuilt)
}
