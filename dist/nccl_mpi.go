//go:build cuda && cgo && mpi

package dist

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Under mpirun, a binary built with -tags mpi hands NCCL's id to the
// ranks with an MPI broadcast when no TCP rendezvous address is set.
func init() {
	ncclIDOverMPI = func(o Options, newID func() ([]byte, error)) ([]byte, Comm, error) {
		m, err := openMPI(o)
		if err != nil {
			return nil, nil, err
		}
		// word 0: 1 when rank 0 has an id, then the id's bytes as float32
		// bit patterns (a broadcast copies bits)
		buf := make([]float32, 1+ncclIDBytes/4)
		var idErr error
		if m.Rank() == 0 {
			id, err := newID()
			if err != nil {
				idErr = err
			} else {
				buf[0] = 1
				for i := range ncclIDBytes / 4 {
					buf[1+i] = math.Float32frombits(binary.LittleEndian.Uint32(id[4*i:]))
				}
			}
		}
		if err := m.Broadcast(buf, 0); err != nil {
			m.Close()
			return nil, nil, err
		}
		if buf[0] != 1 {
			m.Close()
			if idErr != nil {
				return nil, nil, idErr
			}
			return nil, nil, fmt.Errorf("rank %d: rank 0 could not make the NCCL id", m.Rank())
		}
		id := make([]byte, ncclIDBytes)
		for i := range ncclIDBytes / 4 {
			binary.LittleEndian.PutUint32(id[4*i:], math.Float32bits(buf[1+i]))
		}
		return id, m, nil
	}
}
