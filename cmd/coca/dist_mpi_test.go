//go:build mpi

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gococa/gococa/tensor/safetensors"
)

// The tests below run this test binary as `coca` under mpirun: the ranks
// run TestCocaMain with the arguments in GOCOCA_COCA_ARGS.

func TestCocaMain(t *testing.T) {
	args := os.Getenv("GOCOCA_COCA_ARGS")
	if args == "" {
		t.Skip("runs as coca under mpirun (started by the MPI tests)")
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// mpirunEnv lets mpirun run as root (containers, CI) and use shared memory
// without cross-memory attach, which containers often forbid.
var mpirunEnv = []string{"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
	"OMPI_MCA_btl_vader_single_copy_mechanism=none"}

// cocaCmd returns `mpirun -np n coca args...` (n = 0: coca alone).
func cocaCmd(t *testing.T, n int, args ...string) *exec.Cmd {
	t.Helper()
	self := []string{os.Args[0], "-test.run=^TestCocaMain$"}
	var cmd *exec.Cmd
	if n == 0 {
		cmd = exec.Command(self[0], self[1:]...)
	} else {
		path, err := exec.LookPath("mpirun")
		if err != nil {
			t.Skip("mpirun not found (apt-get install openmpi-bin)")
		}
		cmd = exec.Command(path, append([]string{"--oversubscribe", "-np", strconv.Itoa(n)}, self...)...)
	}
	cmd.Env = append(os.Environ(), mpirunEnv...)
	cmd.Env = append(cmd.Env, "GOCOCA_COCA_ARGS="+strings.Join(args, "\x1f"))
	return cmd
}

type metricLine struct {
	Step        int     `json:"step"`
	Loss        float64 `json:"loss"`
	Contrastive float64 `json:"contrastive_loss"`
	Caption     float64 `json:"caption_loss"`
}

func readMetrics(t *testing.T, dir string) []metricLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []metricLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"loss"`) {
			continue
		}
		var m metricLine
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func readModel(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, n := range f.Names() {
		if out[n], err = f.Float32(n); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestMPITrainMatchesOneProcess (issue 10, acceptance 1): `mpirun -np 2
// coca train --dist mpi --batch B` for 10 steps reaches the losses and
// parameters of `coca train --batch 2B` within 1e-5 relative. Losses are
// compared value by value. Parameters are compared per tensor
// (max|Δ| / max|θ|) with SGD; with AdamW over the whole model (‖Δ‖/‖θ‖),
// because Adam turns the rounding noise of parameters whose true gradient
// is zero (attention's key bias) into steps (see train/dist_test.go).
func TestMPITrainMatchesOneProcess(t *testing.T) {
	dir := t.TempDir()
	common := []string{"train", "--config", "coca_tiny", "--steps", "10", "--eval-every", "-1", "--log-every", "1", "--seed", "5", "--precision", "f32"}
	for _, opt := range []string{"sgd", "adamw"} {
		one, two := filepath.Join(dir, opt+"-1"), filepath.Join(dir, opt+"-2")
		args := append(append([]string{}, common...), "--optimizer", opt)
		if out, err := cocaCmd(t, 0, append(args, "--batch", "8", "--out", one)...).CombinedOutput(); err != nil {
			t.Fatalf("coca train: %v\n%s", err, out)
		}
		out, err := cocaCmd(t, 2, append(args, "--batch", "4", "--out", two, "--dist", "mpi", "--dist-bucket-mb", "0.02")...).CombinedOutput()
		if err != nil {
			t.Fatalf("mpirun -np 2 coca train --dist mpi: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "global batch 2×4 = 8") {
			t.Fatalf("the run does not say it is data-parallel:\n%s", out)
		}
		ma, mb := readMetrics(t, one), readMetrics(t, two)
		if len(ma) != 10 || len(mb) != 10 {
			t.Fatalf("%s: %d and %d metric lines, want 10", opt, len(ma), len(mb))
		}
		var worstLoss float64
		for i := range ma {
			for _, p := range [][2]float64{{ma[i].Loss, mb[i].Loss}, {ma[i].Contrastive, mb[i].Contrastive}, {ma[i].Caption, mb[i].Caption}} {
				d := math.Abs(p[0]-p[1]) / math.Abs(p[0])
				worstLoss = math.Max(worstLoss, d)
				if d > 1e-5 || ma[i].Step != mb[i].Step {
					t.Errorf("%s step %d: one process %+v, two ranks %+v", opt, ma[i].Step, ma[i], mb[i])
				}
			}
		}
		pa, pb := readModel(t, filepath.Join(one, "model.safetensors")), readModel(t, filepath.Join(two, "model.safetensors"))
		if len(pa) == 0 || len(pa) != len(pb) {
			t.Fatalf("%d vs %d tensors", len(pa), len(pb))
		}
		var num, den, worstTensor float64
		for n, a := range pa {
			b := pb[n]
			var scale, diff float64
			for i := range a {
				x, y := float64(a[i]), float64(b[i])
				scale, diff = math.Max(scale, math.Abs(x)), math.Max(diff, math.Abs(x-y))
				num, den = num+(x-y)*(x-y), den+x*x
			}
			rel := diff / scale
			worstTensor = math.Max(worstTensor, rel)
			if opt == "sgd" && rel > 1e-5 {
				t.Errorf("%s %s: max |Δ| %.3g of max |θ| %.3g (%.2g relative)", opt, n, diff, scale, rel)
			}
		}
		whole := math.Sqrt(num / den)
		if whole > 1e-5 {
			t.Errorf("%s: parameters differ by %.2g relative over the whole model", opt, whole)
		}
		t.Logf("%s: losses within %.2g, parameters %.2g (whole model), worst tensor %.2g", opt, worstLoss, whole, worstTensor)
	}
}

// rankPids returns the pids of mpirun's ranks by rank (from their
// OMPI_COMM_WORLD_RANK), waiting until there are n.
func rankPids(t *testing.T, mpirun int, n int) map[int]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pids := map[int]int{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			s := string(stat)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			if len(f) < 2 || f[1] != strconv.Itoa(mpirun) {
				continue
			}
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			for _, kv := range strings.Split(string(env), "\x00") {
				if r, ok := strings.CutPrefix(kv, "OMPI_COMM_WORLD_RANK="); ok {
					rank, _ := strconv.Atoi(r)
					pids[rank] = pid
				}
			}
		}
		if len(pids) == n {
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mpirun %d: could not find its %d ranks", mpirun, n)
	return nil
}

func checkpointStep(dir string) int {
	var info struct {
		Step int `json:"step"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "checkpoint.json"))
	if err != nil || json.Unmarshal(b, &info) != nil {
		return -1
	}
	return info.Step
}

// TestMPITrainKilledRank (issue 10, acceptance 2): SIGKILL one rank of a
// training job that checkpoints every step; the other must exit with an
// error naming the killed rank within seconds, and the latest checkpoint
// must load and resume. Round 1 kills rank 1, round 2 (resumed) kills rank 0,
// the one that writes.
func TestMPITrainKilledRank(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "--dist", "mpi", "--config", "coca_tiny", "--steps", "100000", "--batch", "4", "--eval-every", "-1",
		"--save-every", "1", "--log-every", "1", "--out", dir, "--dist-timeout", "2m"}
	for round, victim := range []int{1, 0} {
		a := args
		if round > 0 {
			a = append(a, "--resume")
		}
		cmd := cocaCmd(t, 2, a...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids := rankPids(t, cmd.Process.Pid, 2)
		t.Cleanup(func() {
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		})
		before := checkpointStep(dir)
		deadline := time.Now().Add(60 * time.Second)
		for checkpointStep(dir) < before+3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if checkpointStep(dir) < before+3 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: no checkpoints written:\n%s", round, out.String())
		}
		time.Sleep(time.Duration(30+70*round) * time.Millisecond) // somewhere inside a step or a save
		t0 := time.Now()
		syscall.Kill(pids[victim], syscall.SIGKILL)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("round %d: the job still runs 30 s after rank %d was killed:\n%s", round, victim, out.String())
		}
		took := time.Since(t0)
		if err == nil {
			t.Fatalf("round %d: mpirun exited 0 after rank %d was killed", round, victim)
		}
		survivor := 1 - victim
		for _, want := range []string{fmt.Sprintf("dist: rank %d", survivor), fmt.Sprintf("rank %d (pid %d on ", victim, pids[victim]), "has exited"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("round %d: the output lacks %q:\n%s", round, want, out.String())
			}
		}
		t.Logf("round %d: killed rank %d; the job ended %v later; checkpoint at step %d", round, victim, took.Round(time.Millisecond), checkpointStep(dir))
		// The latest checkpoint loads: resume it in one process (batch 8 is
		// the same global batch) for two more steps.
		step := checkpointStep(dir)
		check := filepath.Join(t.TempDir(), "check")
		if err := os.CopyFS(check, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		res := cocaCmd(t, 0, "train", "--resume", "--config", "coca_tiny", "--stop-at", strconv.Itoa(step+2), "--batch", "8",
			"--eval-every", "-1", "--save-every", "100000", "--out", check)
		if o, err := res.CombinedOutput(); err != nil || !strings.Contains(string(o), fmt.Sprintf("resuming %s at step %d", check, step)) {
			t.Fatalf("round %d: the checkpoint at step %d does not resume: %v\n%s", round, step, err, o)
		}
	}
}
