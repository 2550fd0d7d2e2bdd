# DataSmith's front door. `make demo` and `make test` bootstrap everything they need.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
export DATASMITH_FIXTURES ?= $(abspath ../shared/fixtures)
DEMO_SOURCES := samples/sources.yml
DEMO_DB := artifacts/warehouse.duckdb
# The Dagster instance of make demo, datasmith materialize (beside the warehouse) and make dev.
DAGSTER_HOME_DIR := $(abspath artifacts/dagster_home)
DAGSTER_PORT ?= 3000
DOCS_PORT ?= 8080

.PHONY: help bootstrap manifest demo test lint dev docs bench sample clean

help:
	@echo "make demo    build $(DEMO_DB) from the bundled sample and say what is in it"
	@echo "make test    run the whole test suite (what CI runs)"
	@echo "make dev     dagster dev on the demo warehouse and its runs (http://127.0.0.1:$(DAGSTER_PORT), DAGSTER_PORT=...)"
	@echo "make docs    dbt docs generate + serve (http://127.0.0.1:$(DOCS_PORT), DOCS_PORT=...)"
	@echo "make bench   throughput benchmarks against their baselines"
	@echo "make sample  regenerate the bundled sample with real asv runs"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet --compile-bytecode

manifest: bootstrap
	@$(RUN) python -c "from assets.dbt_project import ensure_manifest; ensure_manifest()"

demo: manifest
	@$(RUN) python samples/generate.py --clone-for-db $(DEMO_DB)
	$(RUN) datasmith materialize --sources $(DEMO_SOURCES) --db $(DEMO_DB) --dagster-home $(DAGSTER_HOME_DIR)
	@$(RUN) python -m assets.summary --db $(DEMO_DB)
	$(RUN) datasmith score --db $(DEMO_DB)
	@echo "reports: artifacts/reports/   dataset: artifacts/dataset/ (tasks.parquet, tasks.jsonl, README.md)"

test: manifest
	$(RUN) ruff check .
	$(RUN) lint-imports
	$(RUN) pytest

lint: bootstrap
	$(RUN) ruff check .
	$(RUN) ruff format --check .

dev: manifest
	@mkdir -p $(DAGSTER_HOME_DIR) && cp deploy/local/dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) DATASMITH_SOURCES=$(DEMO_SOURCES) DATASMITH_DB=$(DEMO_DB) $(RUN) dagster dev --port $(DAGSTER_PORT)

docs: manifest
	DATASMITH_DB=$(abspath $(DEMO_DB)) $(RUN) dbt docs generate --profiles-dir . --target-path target
	DATASMITH_DB=$(abspath $(DEMO_DB)) $(RUN) dbt docs serve --profiles-dir . --port $(DOCS_PORT)

bench: manifest
	$(RUN) python -m bench.run
	$(RUN) python -m bench.dashboards
	$(RUN) python -m bench.detection
	$(RUN) python -m bench.github
	$(RUN) python -m bench.runner
	$(RUN) python -m bench.dataset
	$(RUN) python -m bench.cluster
	$(RUN) python -m bench.sampling
	$(RUN) python -m bench.detection_quality
	$(RUN) python -m bench.scale --sets results/django dashboards/numpy-trimmed --copies 1 2 4
	$(RUN) python -m bench.overhead

sample: bootstrap
	$(RUN) python samples/generate.py

clean:
	rm -rf artifacts target logs .pytest_cache
