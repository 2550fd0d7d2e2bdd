"""Benchmarks and studies: every script here runs from the project root as `python -m bench.<name>`."""
