"""DataSmith's dataset: read the warehouse as tasks (see datasmith.api)."""
