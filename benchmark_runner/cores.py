"""Which CPU cores each concurrent job gets.

Rule: the cores this process may use (``os.sched_getaffinity(0)``) are taken in ascending order and
cut into consecutive blocks of ``cores_per_job``. Core 0 is left out whenever the other cores are
enough, because the kernel routes most interrupts and housekeeping to it; when every core is needed
(2 cores, 2 single-core jobs) core 0 is used too. A request that does not fit is refused.
"""

from __future__ import annotations

import os


class CoresError(ValueError):
    """The jobs and cores asked for do not fit this machine."""


def available_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def allocate_cores(
    jobs: int, cores_per_job: int, available: list[int] | None = None
) -> list[tuple[int, ...]]:
    """One tuple of core ids per job; raises CoresError when jobs x cores_per_job does not fit."""
    cores = sorted(available if available is not None else available_cores())
    if jobs < 1 or cores_per_job < 1:
        raise CoresError(f"jobs ({jobs}) and cores_per_job ({cores_per_job}) must both be at least 1")
    needed = jobs * cores_per_job
    if needed > len(cores):
        raise CoresError(
            f"{jobs} jobs x {cores_per_job} cores per job need {needed} cores, but this process may use "
            f"only {len(cores)} ({format_cores(cores)}); lower 'jobs' or 'cores_per_job'"
        )
    if 0 in cores and len(cores) - 1 >= needed:
        cores.remove(0)
    return [tuple(cores[i * cores_per_job : (i + 1) * cores_per_job]) for i in range(jobs)]


def format_cores(cores) -> str:
    """asv's --cpu-affinity syntax: a comma-separated list."""
    return ",".join(str(c) for c in cores)
