package dist

import (
	"fmt"
	"strconv"
)

// launcherEnv reads this process's place in the job from the environment
// the launcher sets: OpenMPI's mpirun (OMPI_COMM_WORLD_*), torchrun-style
// launchers (RANK, WORLD_SIZE, LOCAL_RANK) or Slurm's srun (SLURM_*). key
// identifies the job (the same for every rank, new for every launch) where
// the launcher says. Without a launcher it returns rank 0 of 1.
func launcherEnv(getenv func(string) string) (rank, size, local int, key string, err error) {
	for _, names := range [][4]string{
		{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_MCA_ess_base_jobid"},
		{"RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"},
		{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_ID"},
	} {
		if getenv(names[0]) == "" {
			continue
		}
		num := func(name string) (int, error) {
			v, err := strconv.Atoi(getenv(name))
			if err != nil || v < 0 {
				return 0, fmt.Errorf("dist: environment variable %s=%q is not a rank count or index", name, getenv(name))
			}
			return v, nil
		}
		if rank, err = num(names[0]); err != nil {
			return
		}
		if size, err = num(names[1]); err != nil {
			return
		}
		if getenv(names[2]) != "" {
			if local, err = num(names[2]); err != nil {
				return
			}
		}
		if rank >= size {
			return 0, 0, 0, "", fmt.Errorf("dist: %s=%d is not below %s=%d", names[0], rank, names[1], size)
		}
		key = getenv(names[3])
		if names[0] == "SLURM_PROCID" && key != "" {
			key += "." + getenv("SLURM_STEP_ID")
		}
		return rank, size, local, key, nil
	}
	return 0, 1, 0, "", nil
}

// checkLauncher compares MPI's world (rank of size) with what a launcher
// that is not MPI's says in the environment. torchrun starts plain processes
// and srun starts MPI ranks only with its PMIx plugin (srun --mpi=pmix): in
// both cases without MPI's wire-up, every process initialises MPI as a
// world of its own and would train alone, all writing the same run
// directory. That is an error naming the variables.
func checkLauncher(rank, size int, getenv func(string) string) error {
	if size > 1 || getenv("OMPI_COMM_WORLD_SIZE") != "" {
		return nil
	}
	_, n, _, _, err := launcherEnv(getenv)
	if err != nil || n <= 1 {
		return err
	}
	if getenv("RANK") != "" {
		return fmt.Errorf("dist: this process was started by a torchrun-style launcher (RANK=%s, WORLD_SIZE=%s) but MPI sees a world of %d: "+
			"such launchers start plain processes without MPI's wire-up, so each would train alone; start the ranks with mpirun (or srun --mpi=pmix under Slurm)",
			getenv("RANK"), getenv("WORLD_SIZE"), size)
	}
	return fmt.Errorf("dist: Slurm started this process as task %s of %s (SLURM_PROCID, SLURM_NTASKS) but MPI sees a world of %d: "+
		"start the ranks with srun --mpi=pmix (an OpenMPI built with PMIx; srun --mpi=list shows the plugins) or with mpirun inside the allocation",
		getenv("SLURM_PROCID"), getenv("SLURM_NTASKS"), size)
}
