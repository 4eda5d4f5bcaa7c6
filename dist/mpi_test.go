//go:build mpi

package dist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests below start this test binary under mpirun; the ranks run
// TestMPIWorker, which does what GOCOCA_MPI_WORKER says.

func TestMPIWorker(t *testing.T) {
	mode := os.Getenv("GOCOCA_MPI_WORKER")
	if mode == "" {
		t.Skip("runs as a rank under mpirun (started by the other MPI tests)")
	}
	// Messages go to stderr and, where GOCOCA_MPI_LOG names a directory, to
	// a file of this process's own: mpirun may drop a rank's last output
	// when it is aborting the job.
	var logw io.Writer = os.Stderr
	if dir := os.Getenv("GOCOCA_MPI_LOG"); dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("pid-%d.log", os.Getpid())), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err == nil {
			logw = io.MultiWriter(os.Stderr, f)
		}
	}
	timeout, _ := time.ParseDuration(os.Getenv("GOCOCA_MPI_TIMEOUT"))
	c, err := Open("mpi", Options{Timeout: timeout, Log: logw})
	if err != nil {
		fmt.Fprintln(logw, err)
		os.Exit(1)
	}
	switch mode {
	case "collectives":
		err = collectives(c)
		if err == nil {
			err = nilPanics()
		}
	case "loop":
		fmt.Printf("rank %d pid %d\n", c.Rank(), os.Getpid())
		buf := make([]float32, 1<<16)
		for err == nil {
			err = c.AllReduceSum(buf)
			time.Sleep(time.Millisecond)
		}
		// Close after a failed collective must return at once (the
		// abandoned MPI_Wait still holds the communicator's lock).
		fmt.Fprintln(logw, "worker:", err)
		t0 := time.Now()
		cerr := c.Close()
		fmt.Fprintf(logw, "worker: rank %d closed after the failure in %v (%v)\n", c.Rank(), time.Since(t0).Round(time.Millisecond), cerr)
		os.Exit(1)
	case "finalize":
		// Rank 1 stops itself before MPI_Finalize: rank 0's Close must
		// give up after the timeout.
		if err = c.Barrier(); err == nil {
			if c.Rank() == 1 {
				syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			}
			t0 := time.Now()
			err = c.Close()
			fmt.Fprintf(logw, "worker: rank %d: Close returned after %v: %v\n", c.Rank(), time.Since(t0).Round(time.Millisecond), err)
			if err == nil {
				os.Exit(0)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(logw, "worker:", err)
		os.Exit(1)
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(logw, "worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// nilPanics checks that a nil dereference still panics in Go after MPI_Init
// (OpenMPI's own SIGSEGV handler must not replace the Go runtime's).
func nilPanics() (err error) {
	defer func() {
		if recover() == nil {
			err = fmt.Errorf("a nil dereference did not panic")
		}
	}()
	var p *int
	_ = *p
	return nil
}

// mpirunEnv lets mpirun run as root (containers, CI) and uses shared
// memory without cross-memory attach, which containers often forbid.
var mpirunEnv = []string{"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
	"OMPI_MCA_btl_vader_single_copy_mechanism=none"}

// mpirun returns a command that runs n ranks of this test binary in mode.
func mpirun(t *testing.T, n int, mode string, env ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (apt-get install openmpi-bin)")
	}
	cmd := exec.Command(path, "--oversubscribe", "-np", strconv.Itoa(n), os.Args[0], "-test.run=^TestMPIWorker$")
	cmd.Env = append(os.Environ(), mpirunEnv...)
	cmd.Env = append(cmd.Env, "GOCOCA_MPI_WORKER="+mode, "GOCOCA_MPI_LOG="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// rankLogs returns what the ranks of cmd (from mpirun) wrote to their own
// log files.
func rankLogs(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var dir string
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "GOCOCA_MPI_LOG="); ok {
			dir = v
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "[%s]\n%s", filepath.Base(f), data)
	}
	return b.String()
}

func TestMPICollectives(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		cmd := mpirun(t, n, "collectives")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mpirun -np %d: %v\n%s", n, err, out)
		}
	}
}

// lockedBuffer is an io.Writer safe for the two goroutines exec starts.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLoop starts two ranks all-reducing in a loop and returns their pids.
func startLoop(t *testing.T, env ...string) (*exec.Cmd, *lockedBuffer, [2]int) {
	t.Helper()
	cmd := mpirun(t, 2, "loop", env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids [2]int
	re := regexp.MustCompile(`^rank (\d) pid (\d+)$`)
	sc := bufio.NewScanner(stdout)
	for seen := 0; seen < 2 && sc.Scan(); {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			r, _ := strconv.Atoi(m[1])
			pids[r], _ = strconv.Atoi(m[2])
			seen++
		}
	}
	go io.Copy(&stderr, stdout)
	if pids[0] == 0 || pids[1] == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("ranks did not start: %s", stderr.String())
	}
	t.Cleanup(func() {
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	time.Sleep(300 * time.Millisecond) // let them all-reduce a while
	return cmd, &stderr, pids
}

// waitExit waits for mpirun to end, at most limit.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) (time.Duration, error) {
	t.Helper()
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return time.Since(t0), err
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mpirun still running %v after the failure", limit)
	}
	return 0, nil
}

// TestMPIKilledRank: SIGKILL one rank; the other must exit with an error
// naming it, in bounded time.
func TestMPIKilledRank(t *testing.T) {
	cmd, out, pids := startLoop(t, "GOCOCA_MPI_TIMEOUT=60s")
	syscall.Kill(pids[1], syscall.SIGKILL)
	took, err := waitExit(t, cmd, 30*time.Second)
	if err == nil {
		t.Fatalf("mpirun exited 0 after a rank was killed:\n%s", out)
	}
	want := fmt.Sprintf("rank 1 (pid %d on ", pids[1])
	all := out.String() + rankLogs(t, cmd)
	if !strings.Contains(all, "dist: rank 0") || !strings.Contains(all, want) || !strings.Contains(all, "has exited") {
		t.Fatalf("rank 0's error does not name rank 1 as exited (%q):\n%s", want, all)
	}
	t.Logf("killed rank 1; job ended after %v:\n%s", took.Round(time.Millisecond), all)
}

// TestMPIStoppedRank: a rank that stops responding (SIGSTOP) makes the
// other fail its collective after the timeout, naming it.
func TestMPIStoppedRank(t *testing.T) {
	cmd, out, pids := startLoop(t, "GOCOCA_MPI_TIMEOUT=2s")
	syscall.Kill(pids[1], syscall.SIGSTOP)
	took, err := waitExit(t, cmd, 30*time.Second)
	if err == nil {
		t.Fatalf("mpirun exited 0 after a rank was stopped:\n%s", out)
	}
	want := fmt.Sprintf("rank 1 (pid %d on ", pids[1])
	all := out.String() + rankLogs(t, cmd)
	if !strings.Contains(all, "did not complete within 2s") || !strings.Contains(all, want) || !strings.Contains(all, "has been stopped") {
		t.Fatalf("rank 0's error does not name rank 1 as stopped:\n%s", all)
	}
	if took > 20*time.Second {
		t.Fatalf("the job took %v to end after a 2 s timeout", took)
	}
	// Rank 1, continued and stopped by mpirun, knows that it was the one
	// that did not run.
	if !strings.Contains(all, "this rank itself did not run for") {
		t.Errorf("rank 1 does not say that it was stopped itself:\n%s", all)
	}
	if !strings.Contains(all, "worker: rank 0 closed after the failure in") {
		t.Fatalf("rank 0's Close after the failure did not return:\n%s", all)
	}
	t.Logf("stopped rank 1; job ended after %v:\n%s", took.Round(time.Millisecond), all)
}

// TestMPIFinalizeTimeout: a rank that stops before MPI_Finalize makes the
// other's Close fail after the timeout, instead of waiting forever.
func TestMPIFinalizeTimeout(t *testing.T) {
	cmd := mpirun(t, 2, "finalize", "GOCOCA_MPI_TIMEOUT=2s")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	took, err := waitExit(t, cmd, 30*time.Second)
	if err == nil {
		t.Fatalf("mpirun exited 0 although rank 1 stopped before MPI_Finalize:\n%s", out.String())
	}
	all := out.String() + rankLogs(t, cmd)
	if !strings.Contains(all, "worker: rank 0: Close returned after") || !strings.Contains(all, "MPI_Finalize did not complete within 2s") {
		t.Fatalf("rank 0's Close did not give up on MPI_Finalize:\n%s", all)
	}
	t.Logf("the job ended after %v:\n%s", took.Round(time.Millisecond), all)
}

// TestMPITorchrunWithoutMPI: a rank started by a torchrun-style launcher
// (no mpirun) sees an MPI world of one and must refuse to train alone.
func TestMPITorchrunWithoutMPI(t *testing.T) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun not found (apt-get install openmpi-bin)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMPIWorker$")
	cmd.Env = append(os.Environ(), mpirunEnv...)
	cmd.Env = append(cmd.Env, "GOCOCA_MPI_WORKER=collectives", "RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=1",
		"MASTER_ADDR=127.0.0.1", "MASTER_PORT=29500", "TORCHELASTIC_RUN_ID=x")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a torchrun-style rank opened MPI as a world of one:\n%s", out)
	}
	if !strings.Contains(string(out), "torchrun-style launcher (RANK=1, WORLD_SIZE=2) but MPI sees a world of 1") {
		t.Fatalf("the error does not name the launcher's variables:\n%s", out)
	}
}
