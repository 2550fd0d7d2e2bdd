"""The sources file's `benchmarks:` section (placeholder until its issue lands)."""

from ingest.sources import SourcesError


def parse_benchmarks_section(file, node, seen):
    raise SourcesError(f"{file}: line {node.start_mark.line + 1}: the 'benchmarks' section is not supported yet")
