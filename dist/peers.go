package dist

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// peer is what a rank knows of another: its process id and host name,
// exchanged when the communicator opens, so that a rank whose collective
// fails can say which ranks on its own host are gone.
type peer struct {
	pid  int
	host string
}

// peerWords is the size of an encoded peer: the pid and 64 bytes of host
// name, as float32 bit patterns (collectives copy them unchanged).
const peerWords = 1 + 16

func encodePeer(p peer) []float32 {
	out := make([]float32, peerWords)
	out[0] = math.Float32frombits(uint32(p.pid))
	var b [64]byte
	copy(b[:], p.host)
	for i := 0; i < 16; i++ {
		out[1+i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}

func decodePeers(all []float32, size int) []peer {
	ps := make([]peer, size)
	for r := range ps {
		w := all[r*peerWords : (r+1)*peerWords]
		var b [64]byte
		for i := 0; i < 16; i++ {
			u := math.Float32bits(w[1+i])
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		}
		ps[r] = peer{pid: int(math.Float32bits(w[0])), host: strings.TrimRight(string(b[:]), "\x00")}
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

// peerReport describes the other ranks for an error message: those on this
// host that exited or are stopped by name, else a note that every rank on
// this host runs and which ranks live elsewhere.
func peerReport(self int, host string, peers []peer, state func(pid int) string) string {
	var bad, running, remote []string
	for r, p := range peers {
		if r == self {
			continue
		}
		if p.host != host {
			remote = append(remote, fmt.Sprintf("%d (%s)", r, p.host))
			continue
		}
		switch st := state(p.pid); st {
		case "exited", "stopped":
			bad = append(bad, fmt.Sprintf("rank %d (pid %d on %s) has %s", r, p.pid, p.host, map[string]string{"exited": "exited", "stopped": "been stopped"}[st]))
		case "":
			remote = append(remote, fmt.Sprintf("%d (pid %d, state unknown)", r, p.pid))
		default:
			running = append(running, fmt.Sprint(r))
		}
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; ")
	}
	msg := "no other rank on this host has exited or stopped"
	if len(running) > 0 {
		msg = fmt.Sprintf("every other rank on this host (%s) is running", strings.Join(running, ", "))
	}
	if len(remote) > 0 {
		msg += "; ranks elsewhere, which this rank cannot check (the launcher's message names a failed one): " + strings.Join(remote, ", ")
	}
	return msg
}
