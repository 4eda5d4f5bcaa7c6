package dist

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runRanks runs fn on every rank of a local group and returns the errors.
func runRanks(n int, fn func(c Comm) error) []error {
	cs := NewLocal(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = fn(c)
			c.Close()
		}()
	}
	wg.Wait()
	return errs
}

// collectives checks every collective with values that name the rank; the
// MPI test runs the same function on mpirun's ranks.
func collectives(c Comm) error {
	r, n := c.Rank(), c.Size()
	buf := []float32{float32(r + 1), 0.5, float32(r * r)}
	if err := c.AllReduceSum(buf); err != nil {
		return err
	}
	want := []float32{float32(n * (n + 1) / 2), 0.5 * float32(n), float32((n - 1) * n * (2*n - 1) / 6)}
	for i := range want {
		if buf[i] != want[i] {
			return fmt.Errorf("rank %d: AllReduceSum[%d] = %v, want %v", r, i, buf[i], want[i])
		}
	}
	src := []float32{float32(10 * r), float32(10*r + 1)}
	dst := make([]float32, 2*n)
	if err := c.AllGather(dst, src); err != nil {
		return err
	}
	for q := 0; q < n; q++ {
		if dst[2*q] != float32(10*q) || dst[2*q+1] != float32(10*q+1) {
			return fmt.Errorf("rank %d: AllGather = %v", r, dst)
		}
	}
	if err := c.AllGather(make([]float32, 3), src); err == nil {
		return fmt.Errorf("rank %d: AllGather into a short destination did not fail", r)
	}
	root := n - 1
	b := []float32{float32(r), -1}
	if err := c.Broadcast(b, root); err != nil {
		return err
	}
	if b[0] != float32(root) || b[1] != -1 {
		return fmt.Errorf("rank %d: Broadcast from %d = %v", r, root, b)
	}
	if err := c.Broadcast(b, n); err == nil {
		return fmt.Errorf("rank %d: Broadcast from rank %d of %d did not fail", r, n, n)
	}
	// A large buffer, and one value that must sum identically everywhere.
	big := make([]float32, 1<<18)
	for i := range big {
		big[i] = float32(i%1000)*0.001 + float32(r)
	}
	if err := c.AllReduceSum(big); err != nil {
		return err
	}
	for i, v := range big {
		var w float32
		for q := 0; q < n; q++ {
			w += float32(i%1000)*0.001 + float32(q)
		}
		if v != w {
			return fmt.Errorf("rank %d: big AllReduceSum[%d] = %v, want %v", r, i, v, w)
		}
	}
	req, err := StartAllReduceSum(c, buf)
	if err != nil {
		return err
	}
	if err := req.Wait(); err != nil {
		return err
	}
	if buf[1] != 0.5*float32(n*n) {
		return fmt.Errorf("rank %d: StartAllReduceSum = %v", r, buf)
	}
	return c.Barrier()
}

func TestLocalCollectives(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		for r, err := range runRanks(n, collectives) {
			if err != nil {
				t.Errorf("%d ranks, rank %d: %v", n, r, err)
			}
		}
	}
}

func TestSingle(t *testing.T) {
	c, err := Open("none", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := collectives(c); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("carrier-pigeon", Options{}); err == nil || !strings.Contains(err.Error(), "carrier-pigeon") {
		t.Fatalf("unknown kind: %v", err)
	}
}

// TestLocalMismatch: ranks that disagree on the collective all fail, and
// the message names both calls.
func TestLocalMismatch(t *testing.T) {
	errs := runRanks(2, func(c Comm) error {
		if c.Rank() == 0 {
			return c.AllReduceSum(make([]float32, 4))
		}
		return c.AllReduceSum(make([]float32, 5))
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "4 values") || !strings.Contains(err.Error(), "5 values") {
			t.Errorf("rank %d: %v, want a mismatch error naming both lengths", r, err)
		}
	}
}

// TestLocalRankLeaves: a rank that leaves makes the waiting ranks fail
// with an error naming it, instead of waiting forever.
func TestLocalRankLeaves(t *testing.T) {
	errs := runRanks(3, func(c Comm) error {
		if c.Rank() == 1 {
			return errors.New("rank 1 gave up")
		}
		return c.AllReduceSum(make([]float32, 2))
	})
	for _, r := range []int{0, 2} {
		if errs[r] == nil || !strings.Contains(errs[r].Error(), "rank 1 left") {
			t.Errorf("rank %d: %v, want an error naming rank 1", r, errs[r])
		}
	}
}

// TestLocalWhileWaiting checks that a rank does the work WhileWaiting
// gave it while it waits for a late peer (piece by piece, until the peer
// arrives or the work runs out), and that the collective's result is right
// either way; a communicator that is not local takes no work.
func TestLocalWhileWaiting(t *testing.T) {
	for _, pieces := range []int{3, 1 << 30} { // runs out; outlasts the wait
		var done int
		errs := runRanks(2, func(c Comm) error {
			if c.Rank() == 0 {
				if !WhileWaiting(c, func() bool {
					if done == pieces {
						return false
					}
					done++
					time.Sleep(100 * time.Microsecond)
					return true
				}) {
					return errors.New("a local communicator took no work")
				}
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			buf := []float32{float32(c.Rank() + 1)}
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
			if buf[0] != 3 {
				return fmt.Errorf("sum %v, want 3", buf[0])
			}
			if c.Rank() == 0 {
				WhileWaiting(c, nil)
			}
			return c.Barrier()
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("pieces=%d: rank %d: %v", pieces, r, err)
			}
		}
		// 20 ms of waiting holds about 200 pieces of 0.1 ms (fewer where
		// the sleeps overshoot); the rank stops when its peer arrives.
		if pieces == 3 && done != 3 || pieces > 3 && (done < 5 || done > 400) {
			t.Errorf("pieces=%d: the waiting rank did %d pieces", pieces, done)
		}
	}
	if WhileWaiting(NewTimed(NewLocal(1)[0]), func() bool { return false }) {
		t.Error("a wrapped communicator took work")
	}
}

func TestTimed(t *testing.T) {
	errs := runRanks(2, func(c Comm) error {
		tc := NewTimed(c)
		if err := collectives(tc); err != nil {
			return err
		}
		d, calls := tc.Elapsed()
		if calls < 8 || d <= 0 {
			return fmt.Errorf("Timed counted %d calls, %v", calls, d)
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestPeerEncoding(t *testing.T) {
	ps := []peer{
		{pid: 12345, host: "node-a.example.org", port: 40001, nonce: 0xdeadbeef12345678,
			addrs: []netip.Addr{netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("2001:db8::7")}},
		{pid: 1 << 30, host: strings.Repeat("h", 64), port: 65535, nonce: 1,
			addrs: []netip.Addr{netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8"), netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("::1")}},
		{pid: 7, host: ""},
	}
	var all []float32
	for _, p := range ps {
		all = append(all, encodePeer(p)...)
	}
	got := decodePeers(all, len(ps))
	for i := range ps {
		if !equalPeer(got[i], ps[i]) {
			t.Errorf("peer %d: %+v, want %+v", i, got[i], ps[i])
		}
	}
	// more addresses than fit: the first maxPeerAddrs travel
	many := peer{pid: 1, addrs: make([]netip.Addr, maxPeerAddrs+2)}
	for i := range many.addrs {
		many.addrs[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
	if got := decodePeers(encodePeer(many), 1)[0]; len(got.addrs) != maxPeerAddrs || got.addrs[maxPeerAddrs-1] != many.addrs[maxPeerAddrs-1] {
		t.Errorf("%d addresses: decoded %v", len(many.addrs), got.addrs)
	}
}

func TestPeerReport(t *testing.T) {
	peers := []peer{{pid: 1, host: "a"}, {pid: 2, host: "a"}, {pid: 3, host: "a"}, {pid: 4, host: "b"}}
	state := func(pid int) string { return map[int]string{1: "running", 2: "exited", 3: "stopped"}[pid] }
	got := peerReport(0, "a", peers, state, nil, 0)
	for _, want := range []string{"rank 1 (pid 2 on a) has exited", "rank 2 (pid 3 on a) has been stopped", "cannot check", "3 (b)"} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
	got = peerReport(1, "a", []peer{{pid: 1, host: "a"}, {pid: 2, host: "a"}, {pid: 4, host: "b"}}, func(int) string { return "running" }, nil, 0)
	for _, want := range []string{"ranks that answer: 0 (a, running)", "cannot check (the launcher's message names a failed one): 2 (b)"} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
	// With heartbeats: rank 1 on b is silent, rank 2 on c answers, rank 3
	// on d never sent one; a stopped rank on this host is named from /proc
	// even though its last heartbeat is recent.
	hb := []peer{{pid: 10, host: "a", port: 1}, {pid: 11, host: "b", port: 1}, {pid: 12, host: "c", port: 1}, {pid: 13, host: "d", port: 9}, {pid: 14, host: "a", port: 1}}
	beats := []beat{{}, {heard: true, age: 9800 * time.Millisecond, seq: 277}, {heard: true, age: 200 * time.Millisecond, seq: 278}, {}, {heard: true, age: 10 * time.Millisecond, seq: 278}}
	got = peerReport(0, "a", hb, func(pid int) string { return map[int]string{14: "stopped"}[pid] }, beats, 3*time.Second)
	for _, want := range []string{
		"rank 1 (pid 11 on b) has been silent for 9.8 s (its last heartbeat: collective #277)",
		"rank 4 (pid 14 on a) has been stopped",
		"ranks that answer: 2 (c, at collective #278)",
		"3 (d, no heartbeat ever arrived: UDP port 9 blocked?)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "rank 2 (pid") {
		t.Errorf("report %q names rank 2, which answers, as failed", got)
	}
}

// TestProcState reads a running, a stopped and an exited child from /proc.
func TestProcState(t *testing.T) {
	if procState(os.Getpid()) == "" {
		t.Skip("no /proc")
	}
	if s := procState(os.Getpid()); s != "running" {
		t.Fatalf("self: %q", s)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Signal(syscall.SIGSTOP)
	waitState(t, pid, "stopped")
	cmd.Process.Signal(syscall.SIGKILL)
	waitState(t, pid, "exited") // a zombie until reaped
	cmd.Wait()
	waitState(t, pid, "exited")
}

func waitState(t *testing.T, pid int, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for procState(pid) != want {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: state %q, want %q", pid, procState(pid), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLauncherEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		env               func(string) string
		rank, size, local int
		key, err          string
	}{
		{env(), 0, 1, 0, "", ""},
		{env("OMPI_COMM_WORLD_RANK", "3", "OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_RANK", "1", "OMPI_MCA_ess_base_jobid", "77"), 3, 4, 1, "77", ""},
		{env("RANK", "1", "WORLD_SIZE", "2"), 1, 2, 0, "", ""},
		{env("SLURM_PROCID", "5", "SLURM_NTASKS", "8", "SLURM_LOCALID", "1", "SLURM_JOB_ID", "900", "SLURM_STEP_ID", "2"), 5, 8, 1, "900.2", ""},
		{env("RANK", "2", "WORLD_SIZE", "2"), 0, 0, 0, "", "not below"},
		{env("RANK", "x", "WORLD_SIZE", "2"), 0, 0, 0, "", `RANK="x"`},
	} {
		rank, size, local, key, err := launcherEnv(c.env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v, want one containing %q", err, c.err)
			}
			continue
		}
		if err != nil || rank != c.rank || size != c.size || local != c.local || key != c.key {
			t.Errorf("got %d %d %d %q %v, want %d %d %d %q", rank, size, local, key, err, c.rank, c.size, c.local, c.key)
		}
	}
}

// TestLocalAllReduceLong: sums of long buffers, of changing lengths (the
// group's buffer grows), split between 3 ranks: every element is the sum
// in rank order, bit for bit, on every rank.
func TestLocalAllReduceLong(t *testing.T) {
	// The explicit conversion rounds the product, so that the sums below
	// are not fused with it (arm64 compiles x*y + z to one FMA otherwise).
	val := func(r, i int) float32 { return float32(float32(math.Sin(float64(7*r+i))) * float32(1+r*1000)) }
	errs := runRanks(3, func(c Comm) error {
		for _, n := range []int{1001, 10, 5000, 2} {
			buf := make([]float32, n)
			for i := range buf {
				buf[i] = val(c.Rank(), i)
			}
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
			for i, v := range buf {
				want := val(0, i)
				want += val(1, i)
				want += val(2, i)
				if math.Float32bits(v) != math.Float32bits(want) {
					return fmt.Errorf("rank %d: length %d: [%d] = %v, want %v", c.Rank(), n, i, v, want)
				}
			}
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}
