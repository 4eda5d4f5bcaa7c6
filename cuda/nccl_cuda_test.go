//go:build cuda && cgo && linux

package cuda

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gococa/gococa/dist"
	"github.com/gococa/gococa/tensor"
)

// TestNCCLTwoRanks runs dist's NCCL communicator with two ranks, each a
// process of its own on its own GPU (of the CPU emulator, which emulates
// NCCL between processes, see testdata/emulator/nccl.cpp; or two real
// GPUs with GOCOCA_LIBNCCL naming libnccl.so.2), started as torchrun
// starts them (RANK, WORLD_SIZE, LOCAL_RANK, and a TCP rendezvous address).
// Each rank runs TestNCCLRank. Then the failures: two ranks on one GPU
// (refused, as NCCL refuses them), a rank that never comes (rank 0's
// rendezvous fails at the timeout naming it), and a rank that stops
// answering (rank 0's collective fails at the timeout, naming itself and
// the collective).
func TestNCCLTwoRanks(t *testing.T) {
	if os.Getenv("GOCOCA_NCCL_RANK") != "" {
		t.Skip("inside a rank")
	}
	if os.Getenv("GOCOCA_LIBNCCL") == "" {
		t.Skip("GOCOCA_LIBNCCL names no NCCL library (the CPU emulator sets it to its own NCCL)")
	}
	if Probe() != nil {
		t.Skip("no CUDA device")
	}
	if n, _ := cuDeviceCount(); n < 2 {
		t.Skipf("%d GPU: two ranks need two", n)
	}
	t.Run("two ranks", func(t *testing.T) {
		outs, errs := ranks(t, 2, nil)
		for r := range 2 {
			if errs[r] != nil || !strings.Contains(outs[r], "--- PASS: TestNCCLRank") {
				t.Errorf("rank %d: %v\n%s", r, errs[r], outs[r])
			}
			if want := fmt.Sprintf("NCCL rank %d of 2 on cuda:%d", r, r); !strings.Contains(outs[r], want) {
				t.Errorf("rank %d: output lacks %q:\n%s", r, want, outs[r])
			}
		}
	})
	t.Run("one GPU for two ranks", func(t *testing.T) {
		outs, _ := ranks(t, 2, map[string]string{"GOCOCA_NCCL_TEST_DEVICE": "0"})
		for r := range 2 {
			if !strings.Contains(outs[r], fmt.Sprintf("dist: nccl: rank %d: ncclCommInitRank on cuda:0: invalid usage", r)) {
				t.Errorf("rank %d on a GPU shared with the other rank:\n%s", r, outs[r])
			}
		}
	})
	t.Run("missing rank", func(t *testing.T) {
		outs, _ := ranks(t, 1, map[string]string{"WORLD_SIZE": "2", "GOCOCA_NCCL_TEST_TIMEOUT": "1s"})
		if !strings.Contains(outs[0], "rank 0: rank(s) 1 of 2 did not reach the rendezvous at 127.0.0.1:") {
			t.Errorf("rank 0 without rank 1:\n%s", outs[0])
		}
	})
	t.Run("stalled rank", func(t *testing.T) {
		outs, _ := ranks(t, 2, map[string]string{"GOCOCA_NCCL_TEST_STALL": "1", "GOCOCA_NCCL_TEST_TIMEOUT": "3s"})
		if !strings.Contains(outs[0], "dist: rank 0: collective #2 (all-reduce of 1000 values) on cuda:0 did not complete within 3s") {
			t.Errorf("rank 0 with rank 1 stalled:\n%s", outs[0])
		}
	})
}

// ranks starts n rank processes (env added to each) and returns their
// outputs; it kills them after a minute, and a stalled rank once rank 0
// is done.
func ranks(t *testing.T, n int, env map[string]string) ([]string, []error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for r := range n {
		c := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestNCCLRank$", "-test.v", "-test.count=1")
		c.Env = append(os.Environ(), "GOCOCA_NCCL_RANK=1", "RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(n),
			"LOCAL_RANK="+strconv.Itoa(r), "GOCOCA_NCCL_ADDR="+addr)
		for k, v := range env {
			c.Env = append(c.Env, k+"="+v)
		}
		c.Stdout, c.Stderr = &outs[r], &outs[r]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = c
	}
	errs := make([]error, n)
	for r, c := range cmds {
		errs[r] = c.Wait()
		if r == 0 && env["GOCOCA_NCCL_TEST_STALL"] != "" {
			// rank 0 decides; the stalled rank would wait forever
			for _, o := range cmds[1:] {
				o.Process.Kill()
			}
		}
	}
	s := make([]string, n)
	for r := range n {
		s[r] = outs[r].String()
	}
	return s, errs
}

// TestNCCLRank is one rank of TestNCCLTwoRanks.
func TestNCCLRank(t *testing.T) {
	if os.Getenv("GOCOCA_NCCL_RANK") == "" {
		t.Skip("a rank of TestNCCLTwoRanks")
	}
	rank, _ := strconv.Atoi(os.Getenv("RANK"))
	size, _ := strconv.Atoi(os.Getenv("WORLD_SIZE"))
	o := Options{Device: AutoDevice}
	if d := os.Getenv("GOCOCA_NCCL_TEST_DEVICE"); d != "" {
		o.Device, _ = strconv.Atoi(d)
	}
	tb, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b := tb.(*Backend)
	old := tensor.SetBackend(b)
	defer tensor.SetBackend(old)
	timeout := 20 * time.Second
	if s := os.Getenv("GOCOCA_NCCL_TEST_TIMEOUT"); s != "" {
		timeout, _ = time.ParseDuration(s)
	}
	comm, err := dist.Open("nccl", dist.Options{Timeout: timeout, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer comm.Close()
	if comm.Rank() != rank || comm.Size() != size {
		t.Fatalf("rank %d of %d, want %d of %d", comm.Rank(), comm.Size(), rank, size)
	}
	if os.Getenv("GOCOCA_NCCL_TEST_STALL") != "" && rank == 1 {
		time.Sleep(time.Hour)
	}
	// An all-reduce of device memory: no copy either way.
	const n = 1000
	x := tensor.Alloc(n)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i) + 0.25*float32(rank+1)
	}
	b.CopyFromHost(x, v)
	before, _ := readEmuStats()
	if err := comm.AllReduceSum(x); err != nil {
		t.Fatal(err)
	}
	after, _ := readEmuStats()
	d := after.Sub(before)
	if _, emulated := readEmuStats(); emulated && (d.HtoDBytes != 0 || d.DtoHBytes != 0 || d.Collectives != 1 || d.HostFaults != 0) {
		t.Errorf("all-reduce of device memory: %v, %d collectives; want no copies and one collective", d, d.Collectives)
	}
	b.CopyToHost(v, x)
	for i, got := range v {
		if want := float32(i) + 0.25 + float32(i) + 0.5; got != want {
			t.Fatalf("all-reduce: element %d = %v, want %v", i, got, want)
		}
	}
	// Go memory is staged.
	src := []float32{float32(rank), float32(10 * rank)}
	dst := make([]float32, 2*size)
	if err := comm.AllGather(dst, src); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dst) != "[0 0 1 10]" {
		t.Errorf("all-gather: %v, want [0 0 1 10]", dst)
	}
	buf := []float32{float32(rank + 7)}
	if err := comm.Broadcast(buf, 1); err != nil {
		t.Fatal(err)
	}
	if buf[0] != 8 {
		t.Errorf("broadcast from rank 1: %v, want 8", buf[0])
	}
	t.Logf("NCCL rank %d of %d on cuda:%d", rank, size, b.Device())
}
