package dist

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// heartbeat sends a small UDP datagram to every other rank at a fixed
// interval, from goroutines of its own, and records when each rank was last
// heard from and which collective it had reached. Collectives never depend
// on it: it lets a rank whose collective timed out say which ranks went
// silent (a stopped or hung process, a host or link that is down) and which
// still answer, for ranks on other hosts too, where /proc cannot tell.
//
// A datagram is 24 bytes: "GCHB", the sender's rank (uint32), its nonce
// (uint64, exchanged when the communicator opened, so that datagrams of
// another job are ignored) and the number of collectives it has started
// (int64), little-endian.
type heartbeat struct {
	conn     *net.UDPConn
	rank     int
	nonce    uint64
	interval time.Duration
	seq      atomic.Int64 // collectives this rank has started
	peers    []peer
	last     []atomic.Int64 // per rank: unix ns of its last heartbeat, 0 for none
	seqs     []atomic.Int64 // per rank: the seq it last sent
	// The last time this rank itself did not run for longer than
	// silentAfter (stopped, or starved of CPU), seen by the sender as a
	// late wake-up: when it ended (unix ns) and how long it was.
	stallEnd, stallLen atomic.Int64
	lastWake           atomic.Int64 // unix ns of the sender's last wake-up
	done               chan struct{}
	wg                 sync.WaitGroup
}

const beatMagic = "GCHB"

// listenHeartbeat opens the UDP socket (any port, every address).
func listenHeartbeat() (*heartbeat, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		return nil, err
	}
	var n [8]byte
	rand.Read(n[:])
	return &heartbeat{conn: conn, nonce: binary.LittleEndian.Uint64(n[:]) | 1, done: make(chan struct{})}, nil
}

func (h *heartbeat) port() int { return h.conn.LocalAddr().(*net.UDPAddr).Port }

// beatInterval is the interval for a job of size ranks whose collectives
// time out after timeout: a tenth of the timeout, between 50 ms and 1 s,
// stretched for large jobs so that a rank sends at most 256 datagrams per
// second (every rank sends to every other).
func beatInterval(timeout time.Duration, size int) time.Duration {
	iv := min(max(timeout/10, 50*time.Millisecond), time.Second)
	if size > 256 {
		iv = iv * time.Duration(size) / 256
	}
	return iv
}

// silentAfter is how long a rank may go unheard before it counts as
// silent: three intervals and some slack for the scheduler.
func (h *heartbeat) silentAfter() time.Duration { return 3*h.interval + 250*time.Millisecond }

// start begins sending to and receiving from peers (peers[rank] is this
// rank).
func (h *heartbeat) start(rank int, peers []peer, interval time.Duration) {
	h.rank, h.peers, h.interval = rank, peers, interval
	h.last = make([]atomic.Int64, len(peers))
	h.seqs = make([]atomic.Int64, len(peers))
	h.wg.Add(2)
	go h.receive()
	go h.send()
}

func (h *heartbeat) send() {
	defer h.wg.Done()
	var dsts []netip.AddrPort
	for r, p := range h.peers {
		if r == h.rank || p.port == 0 {
			continue
		}
		for _, a := range p.addrs {
			dsts = append(dsts, netip.AddrPortFrom(a, uint16(p.port)))
		}
	}
	msg := make([]byte, 24)
	copy(msg, beatMagic)
	binary.LittleEndian.PutUint32(msg[4:], uint32(h.rank))
	binary.LittleEndian.PutUint64(msg[8:], h.nonce)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	prev := time.Now()
	h.lastWake.Store(prev.UnixNano())
	for {
		binary.LittleEndian.PutUint64(msg[16:], uint64(h.seq.Load()))
		for _, d := range dsts {
			h.conn.WriteToUDPAddrPort(msg, d) // an unreachable address is no error here
		}
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		now := time.Now()
		if gap := now.Sub(prev); gap > h.silentAfter() {
			h.stallLen.Store(int64(gap))
			h.stallEnd.Store(now.UnixNano())
		}
		prev = now
		h.lastWake.Store(now.UnixNano())
	}
}

func (h *heartbeat) receive() {
	defer h.wg.Done()
	buf := make([]byte, 64)
	for {
		n, _, err := h.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-h.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // e.g. ICMP unreachable reported on the socket
			continue
		}
		if n != 24 || string(buf[:4]) != beatMagic {
			continue
		}
		r := int(binary.LittleEndian.Uint32(buf[4:]))
		if r < 0 || r >= len(h.peers) || r == h.rank || binary.LittleEndian.Uint64(buf[8:]) != h.peers[r].nonce {
			continue
		}
		h.seqs[r].Store(int64(binary.LittleEndian.Uint64(buf[16:])))
		h.last[r].Store(time.Now().UnixNano())
	}
}

// beats returns what the heartbeats say of every rank now.
func (h *heartbeat) beats() []beat {
	now := time.Now().UnixNano()
	out := make([]beat, len(h.peers))
	for r := range out {
		if l := h.last[r].Load(); l != 0 {
			out[r] = beat{heard: true, age: time.Duration(now - l), seq: h.seqs[r].Load()}
		}
	}
	return out
}

// stalled reports whether this rank itself recently did not run for
// longer than silentAfter, and how long: then the others' silence in
// beats may be its own.
func (h *heartbeat) stalled() (time.Duration, time.Duration, bool) {
	// A stall that has just ended, before the sender woke up to see it.
	if w := h.lastWake.Load(); w != 0 {
		if d := time.Duration(time.Now().UnixNano() - w); d > h.silentAfter() {
			return d, 0, true
		}
	}
	end := h.stallEnd.Load()
	if end == 0 {
		return 0, 0, false
	}
	ago := time.Duration(time.Now().UnixNano() - end)
	return time.Duration(h.stallLen.Load()), ago, ago < 4*h.silentAfter()
}

// close stops the heartbeat (the others then see this rank as silent: close
// it only when leaving the group).
func (h *heartbeat) close() {
	select {
	case <-h.done:
		return
	default:
	}
	close(h.done)
	h.conn.Close()
	h.wg.Wait()
}

// localAddrs returns the addresses other hosts may reach this one at: those
// of the interfaces that are up, not loopback, IPv4 first, at most
// maxPeerAddrs; restricted to the interfaces or subnets of OpenMPI's
// btl_tcp_if_include when it is set (the network the ranks talk over), and
// the loopback address when there is nothing else.
func localAddrs(getenv func(string) string) []netip.Addr {
	var include []string
	if v := getenv("OMPI_MCA_btl_tcp_if_include"); v != "" {
		include = strings.Split(v, ",")
	}
	ifs, _ := net.Interfaces()
	var v4, v6 []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.IsGlobalUnicast() { // link-local IPv6 would need a zone
				continue
			}
			if len(include) > 0 && !included(include, ifc.Name, ip) {
				continue
			}
			if ip.Is4() {
				v4 = append(v4, ip)
			} else {
				v6 = append(v6, ip)
			}
		}
	}
	out := append(v4, v6...)
	if len(out) == 0 {
		out = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	return out[:min(len(out), maxPeerAddrs)]
}

func included(include []string, name string, ip netip.Addr) bool {
	for _, s := range include {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Contains(ip) {
				return true
			}
		} else if s == name {
			return true
		}
	}
	return false
}

// hostname is os.Hostname, or "?" when it fails.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "?"
	}
	return h
}
