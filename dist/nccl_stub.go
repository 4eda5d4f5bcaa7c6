package dist

import "fmt"

func openNCCL(Options) (Comm, error) {
	return nil, fmt.Errorf("%w: NCCL is not implemented in this version (use --dist mpi)", ErrNotBuilt)
}
