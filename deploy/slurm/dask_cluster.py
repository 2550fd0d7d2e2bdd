"""A Dask cluster on SLURM for the benchmark runner: edit the values below, run this on the login node
(or in a long-lived allocation), and point the benchmark_runner target at it:

    benchmark_runner:
      - repo: owner/name
        cluster: /shared/datasmith/scheduler.json     # or tcp://<this host>:8786
        ...

Each SLURM job is one whole node (`--exclusive`) running SLOTS_PER_NODE Dask worker processes, one per
benchmark slot, each with one thread and the resource slot=1. The worker processes of a node share one
node-local DATASMITH_WORKER_DIR: each job claims a free slot folder there (a flock) together with that
slot's block of the node's cores, so the slots never share cores, worktrees or asv environments, and the
environments stay on the node's disk for the commits that follow. Needs `pip install dask-jobqueue` where
this script runs and the project (`datasmith[cluster]`, same version as the coordinator) on the nodes.
See docs/cluster.md.
"""

from __future__ import annotations

import time

# --- edit these ----------------------------------------------------------------------------------------
QUEUE = "compute"  # SLURM partition
ACCOUNT = None  # SLURM account, if your site needs one
NODE_CORES = 32  # cores of one node (the whole node is taken: --exclusive)
CORES_PER_JOB = 2  # the targets' cores_per_job
SLOTS_PER_NODE = (NODE_CORES - 2) // CORES_PER_JOB  # two cores left for the OS, the workers and git
MEMORY = "120GB"  # per node, what SLURM may give (--mem)
WALLTIME = "24:00:00"  # per SLURM job; Dask re-runs the jobs of a node whose allocation ends
NODES = 4  # SLURM jobs (nodes) to start
VENV = "/shared/datasmith/.venv"  # the project's environment, on a file system the nodes see
WORKER_DIR = "/tmp/$USER/datasmith-worker"  # node-local disk: clones, worktrees, asv environments, HOME
SCHEDULER_FILE = "/shared/datasmith/scheduler.json"  # or leave the file out and use the address
PORT = 8786
# ---------------------------------------------------------------------------------------------------


def main() -> None:
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        queue=QUEUE,
        account=ACCOUNT,
        cores=SLOTS_PER_NODE,  # Dask threads per SLURM job: one per worker process
        processes=SLOTS_PER_NODE,  # one worker process per slot
        job_cpu=NODE_CORES,  # --cpus-per-task: the whole node's cores, cut into slots by the runner
        memory=MEMORY,
        walltime=WALLTIME,
        job_extra_directives=["--exclusive"],
        job_script_prologue=[
            f"source {VENV}/bin/activate",
            f"export DATASMITH_WORKER_DIR={WORKER_DIR}",
            "export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1",
        ],
        worker_extra_args=["--resources", "slot=1"],
        local_directory=WORKER_DIR,
        scheduler_options={"port": PORT, "dashboard_address": ":8787"},
    )
    cluster.scale(jobs=NODES)
    from distributed import Client

    client = Client(cluster)
    client.write_scheduler_file(SCHEDULER_FILE)
    print(f"scheduler {cluster.scheduler_address}; file {SCHEDULER_FILE}")
    print(cluster.job_script())
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
