package dist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// The NCCL communicator's unique id (128 bytes that rank 0 makes) reaches
// the other ranks over TCP: rank 0 listens at the rendezvous address, each
// other rank connects (retrying until the timeout), says which job and
// rank it is, and receives the id. Nothing is left behind for a later job
// to read, and a rank that never arrives fails the others within the
// timeout with an error naming it.

// rendezvousAddr returns the TCP address of the rendezvous: o.Rendezvous,
// else GOCOCA_NCCL_ADDR, else MASTER_ADDR:MASTER_PORT (torchrun's).
func rendezvousAddr(o Options, getenv func(string) string) (string, error) {
	addr := o.Rendezvous
	if addr == "" {
		addr = getenv("GOCOCA_NCCL_ADDR")
	}
	if addr == "" && getenv("MASTER_ADDR") != "" && getenv("MASTER_PORT") != "" {
		addr = net.JoinHostPort(getenv("MASTER_ADDR"), getenv("MASTER_PORT"))
	}
	if addr == "" {
		return "", errors.New("no rendezvous address: set GOCOCA_NCCL_ADDR (or MASTER_ADDR and MASTER_PORT) to host:port " +
			"of rank 0's machine, a port every rank can reach, or launch with mpirun and a binary built with -tags mpi")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("rendezvous address %q: want host:port: %v", addr, err)
	}
	return addr, nil
}

const rendezvousMagic = "gococa-nccl-rendezvous-1"

// hello is what a rank sends rank 0: magic, world size, rank, job key.
func hello(size, rank int, key string) []byte {
	var b bytes.Buffer
	b.WriteString(rendezvousMagic)
	binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(size), uint32(rank), uint32(len(key))})
	b.WriteString(key)
	return b.Bytes()
}

func readHello(r io.Reader) (size, rank int, key string, err error) {
	magic := make([]byte, len(rendezvousMagic))
	if _, err = io.ReadFull(r, magic); err != nil {
		return
	}
	if string(magic) != rendezvousMagic {
		return 0, 0, "", errors.New("not a gococa rank (bad greeting)")
	}
	var h [3]uint32
	if err = binary.Read(r, binary.LittleEndian, &h); err != nil {
		return
	}
	if h[2] > 4096 {
		return 0, 0, "", fmt.Errorf("job key of %d bytes", h[2])
	}
	k := make([]byte, h[2])
	if _, err = io.ReadFull(r, k); err != nil {
		return
	}
	return int(h[0]), int(h[1]), string(k), nil
}

// Replies: one status byte (0 = the id follows, 1 = an error message
// follows, 16-bit length first).
func reply(w io.Writer, id []byte, msg string) error {
	if msg == "" {
		_, err := w.Write(append([]byte{0}, id...))
		return err
	}
	var b bytes.Buffer
	b.WriteByte(1)
	binary.Write(&b, binary.LittleEndian, uint16(min(len(msg), 1<<15)))
	b.WriteString(msg[:min(len(msg), 1<<15)])
	_, err := w.Write(b.Bytes())
	return err
}

// rendezvousServe runs rank 0's side: it listens at addr and hands id to
// the size−1 other ranks of job key, returning when each has it or failing
// at the deadline with the ranks that did not come.
func rendezvousServe(addr string, size int, key string, id []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	_, port, _ := net.SplitHostPort(addr)
	ln, err := net.Listen("tcp", net.JoinHostPort("", port)) // every interface: addr names this machine from elsewhere
	if err != nil {
		return fmt.Errorf("rank 0: listening for the other ranks at port %s: %w", port, err)
	}
	defer ln.Close()
	if err := ln.(*net.TCPListener).SetDeadline(deadline); err != nil {
		return err
	}
	served := make([]bool, size)
	served[0] = true
	left := size - 1
	for left > 0 {
		c, err := ln.Accept()
		if err != nil {
			var missing []string
			for r, ok := range served {
				if !ok {
					missing = append(missing, fmt.Sprint(r))
				}
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return fmt.Errorf("rank 0: rank(s) %s of %d did not reach the rendezvous at %s within %v",
					strings.Join(missing, ", "), size, addr, timeout)
			}
			return fmt.Errorf("rank 0: rendezvous at %s: %w", addr, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s, r, k, err := readHello(c)
		var msg string
		switch {
		case err != nil:
			msg = fmt.Sprintf("bad greeting: %v", err)
		case k != key:
			msg = fmt.Sprintf("rank %d is of job %q, this is job %q", r, k, key)
		case s != size:
			msg = fmt.Sprintf("rank %d says the world has %d ranks, rank 0 says %d", r, s, size)
		case r <= 0 || r >= size:
			msg = fmt.Sprintf("rank %d is out of range for %d ranks", r, size)
		case served[r]:
			msg = fmt.Sprintf("rank %d arrived twice", r)
		}
		if err := reply(c, id, msg); err == nil && msg == "" {
			served[r] = true
			left--
		}
		c.Close()
	}
	return nil
}

// rendezvousJoin runs the side of rank > 0: it connects to rank 0 at addr
// (retrying until the deadline: rank 0 may start later) and returns the id.
func rendezvousJoin(addr string, size, rank int, key string, idLen int, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		d := net.Dialer{Deadline: deadline}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			id, err := join(c, size, rank, key, idLen, deadline)
			c.Close()
			if err == nil {
				return id, nil
			}
			var refused refusal
			if errors.As(err, &refused) {
				return nil, fmt.Errorf("rank %d: rank 0 at %s refused this rank: %s", rank, addr, refused.msg)
			}
			last = err
		} else {
			last = err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("rank %d: no rendezvous with rank 0 at %s within %v: %v", rank, addr, timeout, last)
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

func join(c net.Conn, size, rank int, key string, idLen int, deadline time.Time) ([]byte, error) {
	c.SetDeadline(deadline)
	if _, err := c.Write(hello(size, rank, key)); err != nil {
		return nil, err
	}
	var st [1]byte
	if _, err := io.ReadFull(c, st[:]); err != nil {
		return nil, err
	}
	if st[0] == 0 {
		id := make([]byte, idLen)
		_, err := io.ReadFull(c, id)
		return id, err
	}
	var n uint16
	if err := binary.Read(c, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(c, msg); err != nil {
		return nil, err
	}
	return nil, refusal{string(msg)}
}

// exchangeID gives every rank rank 0's id: made by newID on rank 0, then
// sent over TCP. size 1 needs no rendezvous.
func exchangeID(o Options, rank, size int, key string, newID func() ([]byte, error), idLen int) ([]byte, error) {
	if size == 1 {
		return newID()
	}
	addr, err := rendezvousAddr(o, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", rank, err)
	}
	if rank == 0 {
		id, err := newID()
		if err != nil {
			return nil, err
		}
		if err := rendezvousServe(addr, size, key, id, o.Timeout); err != nil {
			return nil, err
		}
		return id, nil
	}
	return rendezvousJoin(addr, size, rank, key, idLen, o.Timeout)
}
