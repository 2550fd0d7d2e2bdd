"""Local and cluster execution of asv (plain Python); its public API for other packages."""

from benchmark_runner.ddl import BENCHMARK_RUNS_DDL

__all__ = ["BENCHMARK_RUNS_DDL"]
