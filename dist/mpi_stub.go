//go:build !mpi

package dist

import "fmt"

func openMPI(Options) (Comm, error) {
	return nil, fmt.Errorf("%w: this binary was built without MPI; rebuild with -tags mpi (needs cgo and libopenmpi-dev)", ErrNotBuilt)
}
