//go:build mpi

package dist

/*
#cgo pkg-config: ompi
#include <mpi.h>

static int go_mpi_init(int *provided) {
	int inited = 0, finalized = 0;
	MPI_Initialized(&inited);
	MPI_Finalized(&finalized);
	if (inited || finalized) return -1;
	return MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
}
static int go_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static int go_comm_dup(MPI_Comm *c, int *rank, int *size) {
	int rc;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, c)) != MPI_SUCCESS) return rc;
	if ((rc = MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN)) != MPI_SUCCESS) return rc;
	if ((rc = MPI_Comm_rank(*c, rank)) != MPI_SUCCESS) return rc;
	return MPI_Comm_size(*c, size);
}
static int go_iallreduce(float *buf, int n, MPI_Comm c, MPI_Request *r) {
	return MPI_Iallreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, c, r);
}
static int go_iallgather(float *src, int n, float *dst, MPI_Comm c, MPI_Request *r) {
	return MPI_Iallgather(src, n, MPI_FLOAT, dst, n, MPI_FLOAT, c, r);
}
static int go_ibcast(float *buf, int n, int root, MPI_Comm c, MPI_Request *r) {
	return MPI_Ibcast(buf, n, MPI_FLOAT, root, c, r);
}
static int go_ibarrier(MPI_Comm c, MPI_Request *r) { return MPI_Ibarrier(c, r); }
static int go_test(MPI_Request *r, int *flag) { return MPI_Test(r, flag, MPI_STATUS_IGNORE); }
static int go_wait(MPI_Request *r) { return MPI_Wait(r, MPI_STATUS_IGNORE); }
static int go_error_string(int code, char *buf) {
	int n = 0;
	if (MPI_Error_string(code, buf, &n) != MPI_SUCCESS) return 0;
	return n;
}
static int go_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static int go_finalize(MPI_Comm *c) {
	MPI_Comm_free(c);
	return MPI_Finalize();
}
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// initTimeout is the least time MPI_Init may take (see openMPI).
const initTimeout = 2 * time.Minute

// maxCount is the largest element count of one MPI call (a C int).
const maxCount = 1 << 30

// mpiComm is a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN.
//
// Every collective is started non-blocking (MPI_Iallreduce, ...) and then
// polled with MPI_Test by the calling goroutine, so that a collective that
// cannot complete (a dead or stopped peer) is abandoned after the timeout
// instead of blocking a thread forever. MPI runs with
// MPI_THREAD_SERIALIZED: calls come from whichever OS thread runs the
// goroutine, one at a time (mu). Buffers of requests in flight are pinned
// (runtime.Pinner), since MPI keeps their address until the request is done.
type mpiComm struct {
	mu     sync.Mutex
	comm   C.MPI_Comm
	rank   int
	size   int
	o      Options
	seq    int64 // collectives started, for messages
	closed bool
	guard
}

var mpiOpened atomic.Bool

func openMPI(o Options) (Comm, error) {
	if !mpiOpened.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("dist: MPI was already opened in this process (MPI can be initialised once)")
	}
	c := &mpiComm{o: o, guard: guard{log: o.Log, timeout: o.Timeout}}
	// MPI_Init_thread waits for every rank to start and MPI_Comm_dup is a
	// collective: neither can be abandoned, so they run on a goroutine of
	// their own and a rank that waits longer than the timeout, and at
	// least initTimeout (starting many hosts takes a while), gives up: a
	// host that never came up, a network that does not connect. The
	// process is expected to exit then.
	limit := max(o.Timeout, initTimeout)
	done := make(chan error, 1)
	go func() { done <- c.init() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
	case <-time.After(limit):
		return nil, fmt.Errorf("dist: MPI_Init did not complete within %v (on %s): not every rank started, or the hosts cannot reach each other", limit, hostname())
	}
	c.guard.rank = c.rank
	if err := checkLauncher(c.rank, c.size, os.Getenv); err != nil {
		return nil, err
	}
	if err := c.exchange(c.size, c.AllGather); err != nil {
		return nil, err
	}
	c.watch()
	return c, nil
}

// init initialises MPI and duplicates MPI_COMM_WORLD.
func (c *mpiComm) init() error {
	var provided C.int
	if rc := C.go_mpi_init(&provided); rc != 0 {
		if rc == -1 {
			return fmt.Errorf("dist: MPI is already initialised in this process")
		}
		return fmt.Errorf("dist: MPI_Init_thread: %s", mpiError(rc))
	}
	if provided < C.go_thread_serialized() {
		return fmt.Errorf("dist: this MPI library provides thread level %d, need MPI_THREAD_SERIALIZED (%d)", provided, C.go_thread_serialized())
	}
	var rank, size C.int
	if rc := C.go_comm_dup(&c.comm, &rank, &size); rc != 0 {
		return fmt.Errorf("dist: MPI_Comm_dup: %s", mpiError(rc))
	}
	c.rank, c.size = int(rank), int(size)
	return nil
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

func mpiError(rc C.int) string {
	buf := make([]byte, int(C.go_max_error_string())+1)
	n := C.go_error_string(rc, (*C.char)(unsafe.Pointer(&buf[0])))
	if n <= 0 {
		return fmt.Sprintf("MPI error %d", int(rc))
	}
	return fmt.Sprintf("%s (MPI error %d)", strings.TrimSpace(string(buf[:n])), int(rc))
}

func fptr(b []float32) *C.float {
	if len(b) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&b[0]))
}

// mpiRequest is one non-blocking collective in flight.
type mpiRequest struct {
	c      *mpiComm
	req    *C.MPI_Request // its own allocation: cgo checks all of what a pointer points into
	pin    runtime.Pinner
	what   string
	start  time.Time
	done   bool
	err    error
	active bool
}

// start begins a collective: begin calls the MPI_I* function. Buffers in
// bufs are pinned until the request completes.
func (c *mpiComm) start(what string, begin func(r *C.MPI_Request) C.int, bufs ...[]float32) (*mpiRequest, error) {
	if err := c.err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("dist: rank %d: %s after Close", c.rank, what)
	}
	c.seq++
	c.started(c.seq)
	r := &mpiRequest{c: c, req: new(C.MPI_Request), what: fmt.Sprintf("collective #%d (%s)", c.seq, what), start: time.Now()}
	for _, b := range bufs {
		if len(b) > 0 {
			r.pin.Pin(&b[0])
		}
	}
	if rc := begin(r.req); rc != 0 {
		r.pin.Unpin()
		return nil, c.fail(fmt.Errorf("dist: rank %d: %s: %s", c.rank, r.what, mpiError(rc)))
	}
	r.active = true
	return r, nil
}

// Test polls the request once.
func (r *mpiRequest) Test() (bool, error) {
	if r.done {
		return true, r.err
	}
	c := r.c
	if err := c.err(); err != nil {
		return false, err
	}
	var flag C.int
	c.mu.Lock()
	rc := C.go_test(r.req, &flag)
	c.mu.Unlock()
	if rc != 0 {
		return false, c.fail(fmt.Errorf("dist: rank %d: %s: %s; %s", c.rank, r.what, mpiError(rc), c.report()))
	}
	if flag != 0 {
		r.done, r.active = true, false
		r.pin.Unpin()
		return true, nil
	}
	if time.Since(r.start) > c.o.Timeout {
		return false, c.fail(fmt.Errorf("dist: rank %d: %s did not complete within %v; %s", c.rank, r.what, c.o.Timeout, c.report()))
	}
	return false, nil
}

// Wait blocks in MPI_Wait, which drives the transfer at full speed, on a
// goroutine of its own, and returns when it is done, when the timeout
// passes or when the launcher stops this rank. In the last two cases that
// goroutine stays blocked in MPI: the communicator is broken and the
// process is expected to exit.
func (r *mpiRequest) Wait() error {
	if r.done {
		return r.err
	}
	c := r.c
	if err := c.err(); err != nil {
		return err
	}
	done := make(chan C.int, 1)
	go func() {
		c.mu.Lock() // MPI_THREAD_SERIALIZED: no other MPI call meanwhile
		rc := C.go_wait(r.req)
		c.mu.Unlock()
		done <- rc
	}()
	timer := time.NewTimer(max(c.o.Timeout-time.Since(r.start), 0))
	defer timer.Stop()
	select {
	case rc := <-done:
		if rc != 0 {
			return c.fail(fmt.Errorf("dist: rank %d: %s: %s; %s", c.rank, r.what, mpiError(rc), c.report()))
		}
		r.done, r.active = true, false
		r.pin.Unpin()
		return nil
	case <-timer.C:
		return c.fail(fmt.Errorf("dist: rank %d: %s did not complete within %v; %s", c.rank, r.what, c.o.Timeout, c.report()))
	case <-c.failed():
		return c.err()
	}
}

// poll tests the request until it is done: spinning (yielding to other
// goroutines) for the first 20 milliseconds, then sleeping between tests,
// so that a rank that waits long (for rank 0 to evaluate) does not keep a
// core busy. Barriers use it: they carry no data, so the latency a sleep
// adds once the last rank arrives is all they lose.
func (r *mpiRequest) poll() error {
	t0 := time.Now()
	for {
		done, err := r.Test()
		if done || err != nil {
			return err
		}
		if w := time.Since(t0); w < 20*time.Millisecond {
			runtime.Gosched()
		} else {
			time.Sleep(min(w/100, time.Millisecond))
		}
	}
}

// StartAllReduceSum starts an in-place float32 sum over the ranks.
func (c *mpiComm) StartAllReduceSum(buf []float32) (Request, error) {
	if len(buf) > maxCount {
		return nil, fmt.Errorf("dist: StartAllReduceSum: %d values exceed MPI's count limit %d; split the buffer", len(buf), maxCount)
	}
	r, err := c.start(fmt.Sprintf("all-reduce of %d values", len(buf)), func(req *C.MPI_Request) C.int {
		return C.go_iallreduce(fptr(buf), C.int(len(buf)), c.comm, req)
	}, buf)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c *mpiComm) AllReduceSum(buf []float32) error {
	for lo := 0; lo < len(buf); lo += maxCount {
		r, err := c.StartAllReduceSum(buf[lo:min(lo+maxCount, len(buf))])
		if err != nil {
			return err
		}
		if err := r.Wait(); err != nil {
			return err
		}
	}
	return c.err()
}

func (c *mpiComm) AllGather(dst, src []float32) error {
	if err := checkGather("AllGather", dst, src, c.size); err != nil {
		return err
	}
	if len(src) > maxCount || len(dst) > math.MaxInt32 {
		return fmt.Errorf("dist: AllGather: %d values per rank exceed MPI's count limit", len(src))
	}
	r, err := c.start(fmt.Sprintf("all-gather of %d values", len(src)), func(req *C.MPI_Request) C.int {
		return C.go_iallgather(fptr(src), C.int(len(src)), fptr(dst), c.comm, req)
	}, src, dst)
	if err != nil {
		return err
	}
	return r.Wait()
}

func (c *mpiComm) Broadcast(buf []float32, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	for lo := 0; lo < len(buf); lo += maxCount {
		part := buf[lo:min(lo+maxCount, len(buf))]
		r, err := c.start(fmt.Sprintf("broadcast of %d values from rank %d", len(part), root), func(req *C.MPI_Request) C.int {
			return C.go_ibcast(fptr(part), C.int(len(part)), C.int(root), c.comm, req)
		}, part)
		if err != nil {
			return err
		}
		if err := r.Wait(); err != nil {
			return err
		}
	}
	return c.err()
}

func (c *mpiComm) Barrier() error {
	r, err := c.start("barrier", func(req *C.MPI_Request) C.int { return C.go_ibarrier(c.comm, req) })
	if err != nil {
		return err
	}
	return r.poll()
}

// Close finalises MPI. After a failure it only stops the signal watch and
// the heartbeats: a collective may still be in flight (holding the lock),
// and MPI_Finalize would wait for the ranks that are gone; the process
// should exit (mpirun then ends the job). MPI_Finalize itself waits for the
// other ranks too, at most the timeout.
func (c *mpiComm) Close() error {
	if c.err() != nil {
		c.stop()
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stop()
	done := make(chan C.int, 1)
	go func() {
		defer c.mu.Unlock()
		done <- C.go_finalize(&c.comm)
	}()
	select {
	case rc := <-done:
		if rc != 0 {
			return fmt.Errorf("dist: rank %d: MPI_Finalize: %s", c.rank, mpiError(rc))
		}
		return nil
	case <-time.After(c.o.Timeout):
		return fmt.Errorf("dist: rank %d: MPI_Finalize did not complete within %v; %s", c.rank, c.o.Timeout, c.report())
	}
}
