// Package dist is the communication layer of data-parallel training: a
// group of ranks (processes, or GPUs) that sum, gather and broadcast float32
// buffers.
//
// One small interface, Comm, has four implementations:
//
//	Single()       world size 1, no communication (the default build)
//	Open("mpi")    MPI through cgo (build with -tags mpi; OpenMPI's libmpi),
//	               one rank per process started by mpirun
//	Open("nccl")   NCCL loaded with dlopen (build with -tags cuda), one rank
//	               per process and GPU, on the CUDA tensor backend's GPU and
//	               stream; tested on the CPU emulator of package cuda (which
//	               emulates NCCL), not yet on GPUs
//	NewLocal(n)    n ranks inside one process (goroutines): in-process
//	               data-parallel training (train.Options.Ranks), tests
//
// Collectives are called by every rank in the same order with buffers of the
// same length, as MPI requires. They block until every rank has taken part,
// but never forever: the MPI communicator fails a collective after
// Options.Timeout, or as soon as the launcher reports that a rank died, with
// an error naming the rank. After an error the communicator is broken and
// every later call returns the same error.
//
// Sums are float32 and every rank receives the same bits. With two ranks
// each element is a single addition, so the result is also independent of
// the order of the ranks.
package dist

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// Comm is a group of ranks. Its methods are not safe for concurrent use:
// one goroutine per rank issues the collectives.
type Comm interface {
	// Rank is this process's index, 0 <= Rank < Size.
	Rank() int
	// Size is the number of ranks (the world size).
	Size() int
	// AllReduceSum replaces buf on every rank by the elementwise sum of
	// every rank's buf.
	AllReduceSum(buf []float32) error
	// AllGather writes rank r's src to dst[r*len(src):(r+1)*len(src)] on
	// every rank; len(dst) must be Size()*len(src).
	AllGather(dst, src []float32) error
	// Broadcast copies root's buf to every other rank's buf.
	Broadcast(buf []float32, root int) error
	// Barrier returns when every rank has called it.
	Barrier() error
	// Close releases the communicator (MPI_Finalize). After a failure it
	// only releases local resources: the process should then exit.
	Close() error
}

// HostNamer is implemented by communicators that know where their ranks
// run (MPI, NCCL): the host name of every rank, by rank.
type HostNamer interface {
	Hosts() []string
}

// Request is an all-reduce in flight (see Async).
type Request interface {
	// Test lets the communication advance and reports whether it is done.
	Test() (done bool, err error)
	// Wait blocks until the all-reduce is done (or fails).
	Wait() error
}

// Async is implemented by communicators that can run an all-reduce while
// the caller computes: training starts reducing a bucket of gradients as
// soon as the backward pass has finished it. buf must not be read or written
// until the request is done.
type Async interface {
	StartAllReduceSum(buf []float32) (Request, error)
}

// Options configure Open.
type Options struct {
	// Timeout bounds every collective: a rank that waits longer fails it
	// with an error naming the ranks it could not hear from. Default 10
	// minutes; it must exceed the longest time one rank works alone (rank 0
	// evaluates and writes checkpoints while the others wait).
	Timeout time.Duration
	// Log receives the notice a rank prints when the launcher stops it
	// because another rank failed (default os.Stderr): the launcher kills
	// the process about a second later, so the notice cannot wait for the
	// next collective to return an error.
	Log io.Writer
	// Rendezvous (NCCL only) is host:port of a TCP port on rank 0's
	// machine that every rank can reach, through which rank 0 hands the
	// communicator's id to the others (default $GOCOCA_NCCL_ADDR, else
	// MASTER_ADDR:MASTER_PORT as torchrun sets them; under mpirun a binary
	// built with -tags mpi uses MPI instead; not needed for one rank).
	Rendezvous string
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
}

// Open returns the communicator of the named kind: "none" (or "") for a
// single process, "mpi" for MPI (needs -tags mpi and a launcher such as
// mpirun), "nccl" for NVIDIA's NCCL (needs -tags cuda, the CUDA tensor
// backend selected, libnccl.so.2 at run time and a launcher; tested on the
// CUDA emulator only).
func Open(kind string, o Options) (Comm, error) {
	o.defaults()
	switch kind {
	case "", "none":
		return Single(), nil
	case "mpi":
		return openMPI(o)
	case "nccl":
		return openNCCL(o)
	}
	return nil, fmt.Errorf("dist: unknown kind %q (want none, mpi or nccl)", kind)
}

// ErrNotBuilt is returned by Open for a kind this binary was built without.
var ErrNotBuilt = errors.New("dist: not built in")

// single is the world of one rank.
type single struct{}

// Single returns the communicator of a single process: rank 0 of 1; the
// collectives leave their buffers as they are (AllGather copies).
func Single() Comm { return single{} }

func (single) Rank() int                    { return 0 }
func (single) Size() int                    { return 1 }
func (single) AllReduceSum([]float32) error { return nil }
func (single) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, 1); err != nil {
		return err
	}
	copy(dst, src)
	return nil
}
func (single) Broadcast(buf []float32, root int) error { return checkRoot(root, 1) }
func (single) Barrier() error                          { return nil }
func (single) Close() error                            { return nil }

func checkGather(op string, dst, src []float32, size int) error {
	if len(dst) != size*len(src) {
		return fmt.Errorf("dist: %s: destination of %d values for %d ranks × %d", op, len(dst), size, len(src))
	}
	return nil
}

func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: Broadcast: root %d out of range for %d ranks", root, size)
	}
	return nil
}

// Timed wraps a communicator and counts the time spent inside its calls
// (an asynchronous all-reduce counts the time inside its start, Test and
// Wait calls, not the time it runs in the background).
type Timed struct {
	Comm
	ns    atomic.Int64
	calls atomic.Int64
}

// NewTimed wraps c.
func NewTimed(c Comm) *Timed { return &Timed{Comm: c} }

// Elapsed returns the time spent in communication calls so far and their number.
func (t *Timed) Elapsed() (time.Duration, int64) {
	return time.Duration(t.ns.Load()), t.calls.Load()
}

func (t *Timed) add(t0 time.Time) {
	t.ns.Add(int64(time.Since(t0)))
	t.calls.Add(1)
}

func (t *Timed) AllReduceSum(buf []float32) error {
	defer t.add(time.Now())
	return t.Comm.AllReduceSum(buf)
}

func (t *Timed) AllGather(dst, src []float32) error {
	defer t.add(time.Now())
	return t.Comm.AllGather(dst, src)
}

func (t *Timed) Broadcast(buf []float32, root int) error {
	defer t.add(time.Now())
	return t.Comm.Broadcast(buf, root)
}

func (t *Timed) Barrier() error {
	defer t.add(time.Now())
	return t.Comm.Barrier()
}

// StartAllReduceSum starts an asynchronous all-reduce when the wrapped
// communicator can, else runs it at once and returns a finished request.
func (t *Timed) StartAllReduceSum(buf []float32) (Request, error) {
	defer t.add(time.Now())
	if a, ok := t.Comm.(Async); ok {
		r, err := a.StartAllReduceSum(buf)
		if err != nil {
			return nil, err
		}
		return timedRequest{r, t}, nil
	}
	return doneRequest{}, t.Comm.AllReduceSum(buf)
}

type timedRequest struct {
	Request
	t *Timed
}

func (r timedRequest) Test() (bool, error) {
	defer r.t.add(time.Now())
	return r.Request.Test()
}

func (r timedRequest) Wait() error {
	defer r.t.add(time.Now())
	return r.Request.Wait()
}

type doneRequest struct{}

func (doneRequest) Test() (bool, error) { return true, nil }
func (doneRequest) Wait() error         { return nil }

// StartAllReduceSum starts an all-reduce on c: asynchronously when c
// implements Async, else at once (the request is then already done).
func StartAllReduceSum(c Comm, buf []float32) (Request, error) {
	if a, ok := c.(Async); ok {
		return a.StartAllReduceSum(buf)
	}
	return doneRequest{}, c.AllReduceSum(buf)
}
