package dist

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRendezvous: rank 0's id reaches every rank over TCP, whichever
// starts first.
func TestRendezvous(t *testing.T) {
	addr := freeAddr(t)
	const size = 4
	id := bytes.Repeat([]byte{0xab, 0x01}, 64)
	ids := make([][]byte, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for r := size - 1; r >= 0; r-- { // the others start before rank 0
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			o := Options{Timeout: 10 * time.Second, Rendezvous: addr}
			ids[r], errs[r] = exchangeID(o, r, size, "job 7", func() ([]byte, error) { return id, nil }, len(id))
		}(r)
		if r == size-1 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	wg.Wait()
	for r := range size {
		if errs[r] != nil || !bytes.Equal(ids[r], id) {
			t.Errorf("rank %d: id %x, error %v", r, ids[r], errs[r])
		}
	}
}

// TestRendezvousFailures: a missing rank, a missing rank 0, a rank of
// another job and a rank with another world size each end in an error
// naming the rank, within the timeout.
func TestRendezvousFailures(t *testing.T) {
	id := make([]byte, 128)
	newID := func() ([]byte, error) { return id, nil }
	t.Run("missing ranks", func(t *testing.T) {
		o := Options{Timeout: 300 * time.Millisecond, Rendezvous: freeAddr(t)}
		t0 := time.Now()
		_, err := exchangeID(o, 0, 4, "", newID, 128)
		if err == nil || !strings.Contains(err.Error(), "rank(s) 1, 2, 3 of 4 did not reach the rendezvous") {
			t.Errorf("rank 0 alone: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("rank 0 waited %v with a 300ms timeout", d)
		}
	})
	t.Run("no rank 0", func(t *testing.T) {
		addr := freeAddr(t)
		o := Options{Timeout: 300 * time.Millisecond, Rendezvous: addr}
		t0 := time.Now()
		_, err := exchangeID(o, 2, 4, "", newID, 128)
		if err == nil || !strings.Contains(err.Error(), "rank 2: no rendezvous with rank 0 at "+addr+" within 300ms") {
			t.Errorf("rank 2 without rank 0: %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("rank 2 waited %v with a 300ms timeout", d)
		}
	})
	for _, c := range []struct {
		name, key string
		size      int
		want      string
	}{
		{"other job", "job 6", 2, `rank 1 is of job "job 6", this is job "job 7"`},
		{"other size", "job 7", 3, "rank 1 says the world has 3 ranks, rank 0 says 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := freeAddr(t)
			done := make(chan error, 1)
			go func() {
				_, err := exchangeID(Options{Timeout: 500 * time.Millisecond, Rendezvous: addr}, 0, 2, "job 7", newID, 128)
				done <- err
			}()
			_, err := exchangeID(Options{Timeout: 5 * time.Second, Rendezvous: addr}, 1, c.size, c.key, newID, 128)
			if err == nil || !strings.Contains(err.Error(), "rank 1: rank 0 at "+addr+" refused this rank: "+c.want) {
				t.Errorf("%s: %v", c.name, err)
			}
			if err := <-done; err == nil || !strings.Contains(err.Error(), "rank(s) 1 of 2") {
				t.Errorf("%s: rank 0: %v", c.name, err)
			}
		})
	}
}

func TestRendezvousAddr(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		o    Options
		env  map[string]string
		want string
	}{
		{Options{Rendezvous: "h:1"}, map[string]string{"GOCOCA_NCCL_ADDR": "g:2"}, "h:1"},
		{Options{}, map[string]string{"GOCOCA_NCCL_ADDR": "g:2", "MASTER_ADDR": "m", "MASTER_PORT": "3"}, "g:2"},
		{Options{}, map[string]string{"MASTER_ADDR": "m", "MASTER_PORT": "3"}, "m:3"},
		{Options{}, map[string]string{"MASTER_ADDR": "m"}, "error: no rendezvous address"},
		{Options{Rendezvous: "/shared/nccl-id"}, nil, `error: rendezvous address "/shared/nccl-id": want host:port`},
	} {
		got, err := rendezvousAddr(c.o, env(c.env))
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%+v %v: %q, want %q", c.o, c.env, got, c.want)
		}
	}
}
