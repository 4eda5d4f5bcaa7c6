package dist

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// guard is the failure state a process-group communicator (MPI, NCCL)
// shares: the first failure, which breaks the communicator for good; the
// other ranks' pids and hosts, to name the one that failed; and the watch
// for the launcher's SIGTERM.
type guard struct {
	rank    int
	log     io.Writer
	failure atomic.Pointer[error] // set once
	told    atomic.Bool           // a call has returned the failure
	peers   []peer
	sig     chan os.Signal
	once    sync.Once
	down    chan struct{} // closed on the first failure
}

// failed returns a channel that is closed once the communicator fails.
func (g *guard) failed() <-chan struct{} { return g.downChan() }

func (g *guard) downChan() chan struct{} {
	g.once.Do(func() { g.down = make(chan struct{}) })
	return g.down
}

// set records err as the failure unless one is recorded.
func (g *guard) set(err error) {
	if g.failure.CompareAndSwap(nil, &err) {
		close(g.downChan())
	}
}

// err returns the failure, if any, and notes that the caller has been told.
func (g *guard) err() error {
	if p := g.failure.Load(); p != nil {
		g.told.Store(true)
		return *p
	}
	return nil
}

// fail records err as the failure unless one is recorded, and returns the
// recorded one.
func (g *guard) fail(err error) error {
	g.set(err)
	return g.err()
}

// exchange gathers every rank's pid and host name with gather (an
// AllGather over size ranks).
func (g *guard) exchange(size int, gather func(dst, src []float32) error) error {
	host, _ := os.Hostname()
	mine := encodePeer(peer{pid: os.Getpid(), host: host})
	all := make([]float32, size*len(mine))
	if err := gather(all, mine); err != nil {
		return err
	}
	g.peers = decodePeers(all, size)
	return nil
}

func (g *guard) report() string {
	host, _ := os.Hostname()
	return peerReport(g.rank, host, g.peers, procState)
}

// watch starts turning the launcher's SIGTERM into a failure that names
// the rank that died. mpirun stops the surviving ranks with SIGTERM when
// one dies and SIGKILLs them a second later, so the failure is printed
// unless a collective returns it at once; then SIGTERM does what it does
// by default.
func (g *guard) watch() {
	g.sig = make(chan os.Signal, 1)
	signal.Notify(g.sig, syscall.SIGTERM)
	go func() {
		s, ok := <-g.sig
		if !ok {
			return
		}
		g.set(fmt.Errorf("dist: rank %d (pid %d): stopped by the launcher (%v): %s", g.rank, os.Getpid(), s, g.report()))
		time.Sleep(300 * time.Millisecond)
		if !g.told.Load() {
			fmt.Fprintln(g.log, *g.failure.Load())
		}
		time.Sleep(200 * time.Millisecond)
		signal.Reset(syscall.SIGTERM)
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
}

// stop ends the watch.
func (g *guard) stop() {
	if g.sig != nil {
		signal.Stop(g.sig)
		close(g.sig)
		g.sig = nil
	}
}
