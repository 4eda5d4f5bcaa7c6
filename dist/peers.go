package dist

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"
	"time"
)

// peer is what a rank knows of another, exchanged when the communicator
// opens: its process id and host name, so that a rank whose collective
// fails can say which ranks on its own host are gone, and where its
// heartbeats come from (see heartbeat), so that it can say which ranks on
// other hosts have gone silent.
type peer struct {
	pid   int
	host  string
	port  int          // heartbeat UDP port; 0: none
	nonce uint64       // tells this run's heartbeats from stray datagrams
	addrs []netip.Addr // the host's addresses (at most maxPeerAddrs)
}

const (
	maxPeerAddrs = 4
	hostBytes    = 64
	// peerWords is the size of an encoded peer in float32 words (carried
	// as bit patterns: collectives copy them unchanged): pid, port, nonce
	// (2), address count, addresses (4 each), host name.
	peerWords = 1 + 1 + 2 + 1 + 4*maxPeerAddrs + hostBytes/4
)

func equalPeer(a, b peer) bool {
	if a.pid != b.pid || a.host != b.host || a.port != b.port || a.nonce != b.nonce || len(a.addrs) != len(b.addrs) {
		return false
	}
	for i := range a.addrs {
		if a.addrs[i] != b.addrs[i] {
			return false
		}
	}
	return true
}

func encodePeer(p peer) []float32 {
	var b [4 * peerWords]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(p.pid))
	le.PutUint32(b[4:], uint32(p.port))
	le.PutUint64(b[8:], p.nonce)
	n := min(len(p.addrs), maxPeerAddrs)
	le.PutUint32(b[16:], uint32(n))
	for i := 0; i < n; i++ {
		a := p.addrs[i].As16()
		copy(b[20+16*i:], a[:])
	}
	copy(b[20+16*maxPeerAddrs:], p.host)
	out := make([]float32, peerWords)
	for i := range out {
		out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
	}
	return out
}

func decodePeers(all []float32, size int) []peer {
	ps := make([]peer, size)
	le := binary.LittleEndian
	for r := range ps {
		var b [4 * peerWords]byte
		for i, w := range all[r*peerWords : (r+1)*peerWords] {
			le.PutUint32(b[4*i:], math.Float32bits(w))
		}
		p := peer{pid: int(le.Uint32(b[0:])), port: int(le.Uint32(b[4:])), nonce: le.Uint64(b[8:])}
		for i := 0; i < min(int(le.Uint32(b[16:])), maxPeerAddrs); i++ {
			p.addrs = append(p.addrs, netip.AddrFrom16([16]byte(b[20+16*i:36+16*i])).Unmap())
		}
		p.host = strings.TrimRight(string(b[20+16*maxPeerAddrs:]), "\x00")
		ps[r] = p
	}
	return ps
}

// procState reports a local process's state from /proc: "running",
// "stopped" (SIGSTOP, a debugger), "exited" (gone or a zombie), or "" when
// it cannot tell (no /proc).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if os.IsNotExist(err) {
			if _, err := os.Stat("/proc/self/stat"); err == nil {
				return "exited"
			}
		}
		return ""
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	switch s[i+2] {
	case 'Z', 'X', 'x':
		return "exited"
	case 'T', 't':
		return "stopped"
	}
	return "running"
}

// beat is what the heartbeats say of a rank: when it was last heard from
// and in which collective it was then.
type beat struct {
	heard bool          // a heartbeat has arrived
	age   time.Duration // since the last one
	seq   int64         // the collectives it had started by then
}

// peerReport describes the other ranks for an error message. Ranks on this
// host that exited or are stopped are named from /proc; the others from
// their heartbeats (beats[r], nil when there are none): a rank not heard
// from for longer than silent is named as silent. Every rank it cannot call
// gone is listed as answering, with the collective it has reached.
func peerReport(self int, host string, peers []peer, state func(pid int) string, beats []beat, silent time.Duration) string {
	var bad, alive, unknown []string
	for r, p := range peers {
		if r == self {
			continue
		}
		where := fmt.Sprintf("rank %d (pid %d on %s)", r, p.pid, p.host)
		if p.host == host {
			switch st := state(p.pid); st {
			case "exited":
				bad = append(bad, where+" has exited")
				continue
			case "stopped":
				bad = append(bad, where+" has been stopped")
				continue
			}
		}
		if r >= len(beats) || p.port == 0 {
			if p.host == host && state(p.pid) == "running" {
				alive = append(alive, fmt.Sprintf("%d (%s, running)", r, p.host))
			} else {
				unknown = append(unknown, fmt.Sprintf("%d (%s)", r, p.host))
			}
			continue
		}
		b := beats[r]
		switch {
		case !b.heard:
			unknown = append(unknown, fmt.Sprintf("%d (%s, no heartbeat ever arrived: UDP port %d blocked?)", r, p.host, p.port))
		case b.age > silent:
			bad = append(bad, fmt.Sprintf("%s has been silent for %.1f s (its last heartbeat: collective #%d): it has exited, is stopped or hung, or its host or network link is down",
				where, b.age.Seconds(), b.seq))
		default:
			alive = append(alive, fmt.Sprintf("%d (%s, at collective #%d)", r, p.host, b.seq))
		}
	}
	var parts []string
	if len(bad) > 0 {
		parts = append(parts, strings.Join(bad, "; "))
	}
	if len(alive) > 0 {
		parts = append(parts, "ranks that answer: "+strings.Join(alive, ", "))
	}
	if len(unknown) > 0 {
		parts = append(parts, "ranks this rank cannot check (the launcher's message names a failed one): "+strings.Join(unknown, ", "))
	}
	if len(parts) == 0 {
		return "no other rank"
	}
	return strings.Join(parts, "; ")
}
