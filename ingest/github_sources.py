"""The sources file's `github:` section (placeholder until its issue lands)."""

from ingest.sources import SourcesError


def parse_github_section(file, node, seen):
    raise SourcesError(f"{file}: line {node.start_mark.line + 1}: the 'github' section is not supported yet")
