"""The sources file's `agent_results:` section (placeholder until its issue lands)."""

from ingest.sources import SourcesError


def parse_agent_results_section(file, node, seen):
    raise SourcesError(f"{file}: line {node.start_mark.line + 1}: the 'agent_results' section is not supported yet")
