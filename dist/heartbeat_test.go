package dist

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// startBeats starts n heartbeats on the loopback interface, as n ranks
// would after the exchange.
func startBeats(t *testing.T, n int, interval time.Duration) []*heartbeat {
	t.Helper()
	hs := make([]*heartbeat, n)
	peers := make([]peer, n)
	for r := range hs {
		h, err := listenHeartbeat()
		if err != nil {
			t.Skip("no UDP socket:", err)
		}
		hs[r] = h
		peers[r] = peer{pid: 1000 + r, host: "h" + string(rune('0'+r)), port: h.port(), nonce: h.nonce,
			addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	}
	for r, h := range hs {
		h.start(r, peers, interval)
	}
	t.Cleanup(func() {
		for _, h := range hs {
			h.close()
		}
	})
	return hs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHeartbeat: four ranks hear each other and each other's collective
// number; ranks that stop sending (closed) are reported silent after
// silentAfter, by host and rank, while the others still answer; datagrams
// with another job's nonce (here claiming to be silent rank 3) are ignored.
func TestHeartbeat(t *testing.T) {
	hs := startBeats(t, 4, 20*time.Millisecond)
	hs[1].seq.Store(41)
	hs[2].seq.Store(42)
	hs[3].seq.Store(43)
	waitFor(t, "every rank hears the others", func() bool {
		for r, h := range hs {
			for q, b := range h.beats() {
				if q != r && !b.heard {
					return false
				}
			}
		}
		return true
	})
	waitFor(t, "rank 0 sees the collective numbers", func() bool {
		b := hs[0].beats()
		return b[1].seq == 41 && b[2].seq == 42 && b[3].seq == 43
	})
	// Stray datagrams claiming to be rank 3 with the wrong nonce.
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: hs[0].port()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stray := []byte("GCHB\x03\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\xff\x00\x00\x00\x00\x00\x00\x00")
	hs[1].close() // ranks 1 and 3 fall silent
	hs[3].close()
	t0 := time.Now()
	for time.Since(t0) < hs[0].silentAfter()+100*time.Millisecond {
		c.Write(stray)
		time.Sleep(10 * time.Millisecond)
	}
	b := hs[0].beats()
	silent := hs[0].silentAfter()
	if b[1].age < silent || b[3].age < silent || b[2].age > silent || b[3].seq != 43 {
		t.Fatalf("after ranks 1 and 3 closed: %+v (silent after %v)", b, silent)
	}
	got := peerReport(0, "h0", hs[0].peers, func(int) string { return "running" }, b, silent)
	for _, want := range []string{"rank 1 (pid 1001 on h1) has been silent for", "collective #41", "rank 3 (pid 1003 on h3) has been silent",
		"ranks that answer: 2 (h2, at collective #42)"} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
}

// TestStalled: a late wake-up of the sender (this rank stopped or
// starved) is reported for a while, then forgotten.
func TestStalled(t *testing.T) {
	h := &heartbeat{interval: 100 * time.Millisecond}
	if _, _, ok := h.stalled(); ok {
		t.Fatal("a fresh heartbeat reports a stall")
	}
	h.stallLen.Store(int64(5 * time.Second))
	h.stallEnd.Store(time.Now().Add(-200 * time.Millisecond).UnixNano())
	if d, ago, ok := h.stalled(); !ok || d != 5*time.Second || ago < 200*time.Millisecond || ago > time.Second {
		t.Fatalf("stalled() = %v, %v, %v", d, ago, ok)
	}
	h.stallEnd.Store(time.Now().Add(-10 * time.Second).UnixNano())
	if _, _, ok := h.stalled(); ok {
		t.Fatal("a stall 10 s ago is still reported (silent after 550 ms)")
	}
	// The sender has not woken for 2 s: a stall that has just ended.
	h.lastWake.Store(time.Now().Add(-2 * time.Second).UnixNano())
	if d, ago, ok := h.stalled(); !ok || d < 2*time.Second || ago != 0 {
		t.Fatalf("sender late by 2 s: stalled() = %v, %v, %v", d, ago, ok)
	}
	h.lastWake.Store(time.Now().UnixNano())
	g := &guard{rank: 0, hb: h}
	h.stallEnd.Store(time.Now().UnixNano())
	if r := g.report(); !strings.Contains(r, "this rank itself did not run for 5.0 s") {
		t.Fatalf("report %q does not mention the stall", r)
	}
}

func TestBeatInterval(t *testing.T) {
	for _, c := range []struct {
		timeout time.Duration
		size    int
		want    time.Duration
	}{
		{10 * time.Minute, 2, time.Second},
		{10 * time.Second, 64, time.Second},
		{2 * time.Second, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, 2, 50 * time.Millisecond},
		{10 * time.Minute, 1024, 4 * time.Second},
	} {
		got := beatInterval(c.timeout, c.size)
		if got != c.want {
			t.Errorf("beatInterval(%v, %d) = %v, want %v", c.timeout, c.size, got, c.want)
		}
		// A rank must count as silent well before a collective waiting
		// for it times out, or the error could not name it.
		if s := (&heartbeat{interval: got}).silentAfter(); c.timeout >= time.Second && s > c.timeout*6/10 {
			t.Errorf("timeout %v, %d ranks: silent only after %v", c.timeout, c.size, s)
		}
	}
}

func TestIncluded(t *testing.T) {
	inc := strings.Split("10.77.0.0/24, eth1", ",")
	for _, c := range []struct {
		name string
		ip   string
		want bool
	}{
		{"eth0", "10.77.0.2", true},
		{"eth0", "10.78.0.2", false},
		{"eth1", "192.168.1.5", true},
		{"eth2", "2001:db8::1", false},
	} {
		if got := included(inc, c.name, netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("included(%s, %s) = %v", c.name, c.ip, got)
		}
	}
	// Restricted to a subnet nobody has: only the loopback address is left.
	addrs := localAddrs(func(k string) string {
		if k == "OMPI_MCA_btl_tcp_if_include" {
			return "203.0.113.0/30"
		}
		return ""
	})
	if len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("localAddrs with an include list nobody matches: %v", addrs)
	}
	if got := localAddrs(func(string) string { return "" }); len(got) == 0 || len(got) > maxPeerAddrs {
		t.Errorf("localAddrs: %v", got)
	}
}

func TestCheckLauncher(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		rank, size int
		env        func(string) string
		err        string
	}{
		{0, 1, env(), ""},
		{1, 2, env("OMPI_COMM_WORLD_RANK", "1", "OMPI_COMM_WORLD_SIZE", "2"), ""},
		{0, 1, env("OMPI_COMM_WORLD_RANK", "0", "OMPI_COMM_WORLD_SIZE", "1"), ""},
		{0, 1, env("RANK", "0", "WORLD_SIZE", "1"), ""},
		{0, 1, env("RANK", "2", "WORLD_SIZE", "4", "LOCAL_RANK", "0", "MASTER_ADDR", "n1"), "torchrun-style launcher (RANK=2, WORLD_SIZE=4) but MPI sees a world of 1"},
		{0, 1, env("SLURM_PROCID", "3", "SLURM_NTASKS", "8"), "Slurm started this process as task 3 of 8"},
		{3, 8, env("SLURM_PROCID", "3", "SLURM_NTASKS", "8"), ""}, // srun --mpi=pmix
		{0, 1, env("SLURM_PROCID", "0", "SLURM_NTASKS", "x"), `SLURM_NTASKS="x"`},
	} {
		err := checkLauncher(c.rank, c.size, c.env)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("checkLauncher(%d, %d): %v, want %q", c.rank, c.size, err, c.err)
		}
	}
}
