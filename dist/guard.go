package dist

import (
	"fmt"
	"io"
	"math"
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
	timeout time.Duration         // Options.Timeout: sets the heartbeat interval
	failure atomic.Pointer[error] // set once
	told    atomic.Bool           // a call has returned the failure
	peers   []peer
	hb      *heartbeat // nil: no heartbeats (the UDP socket could not be opened)
	sig     chan os.Signal
	once    sync.Once
	down    chan struct{} // closed on the first failure
	stopped sync.Once
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

// exchange gathers every rank's pid, host name and heartbeat address with
// gather (an AllGather over size ranks), then starts the heartbeats.
func (g *guard) exchange(size int, gather func(dst, src []float32) error) error {
	mine := peer{pid: os.Getpid(), host: hostname()}
	if size > 1 {
		if hb, err := listenHeartbeat(); err == nil {
			g.hb = hb
			mine.port, mine.nonce, mine.addrs = hb.port(), hb.nonce, localAddrs(os.Getenv)
		} else {
			fmt.Fprintf(g.log, "dist: rank %d: no heartbeats (%v): a failure will not name ranks on other hosts\n", g.rank, err)
		}
	}
	all := make([]float32, size*peerWords)
	if err := gather(all, encodePeer(mine)); err != nil {
		if g.hb != nil {
			g.hb.close()
			g.hb = nil
		}
		return err
	}
	g.peers = decodePeers(all, size)
	if g.hb != nil {
		g.hb.start(g.rank, g.peers, beatInterval(g.timeout, size))
	}
	return nil
}

// started notes that this rank started collective number seq (for the
// heartbeats).
func (g *guard) started(seq int64) {
	if g.hb != nil {
		g.hb.seq.Store(seq)
	}
}

func (g *guard) report() string {
	var beats []beat
	silent := time.Duration(math.MaxInt64)
	if g.hb != nil {
		beats, silent = g.hb.beats(), g.hb.silentAfter()
	}
	msg := peerReport(g.rank, hostname(), g.peers, procState, beats, silent)
	if g.hb != nil {
		if d, ago, ok := g.hb.stalled(); ok {
			msg += fmt.Sprintf("; this rank itself did not run for %.1f s until %.1f s ago (stopped, or starved of CPU): the silences above may be its own", d.Seconds(), ago.Seconds())
		}
	}
	return msg
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

// stop ends the watch and the heartbeats.
func (g *guard) stop() {
	g.stopped.Do(func() {
		if g.sig != nil {
			signal.Stop(g.sig)
			close(g.sig)
		}
		if g.hb != nil {
			g.hb.close()
		}
	})
}

// Hosts returns the host name of every rank, by rank (exchanged when the
// communicator opened).
func (g *guard) Hosts() []string {
	out := make([]string, len(g.peers))
	for r, p := range g.peers {
		out[r] = p.host
	}
	return out
}
