"""The results stage's assets: each `results:` source (an asv results tree) loaded into the raw schema."""

import dagster as dg

from assets.partitions import materialize_each_partition
from assets.progress import progress_logger
from assets.resources import WarehouseResource
from ingest.results import ingest_results_source
from ingest.sources import Sources

RAW_RESULTS_TABLES = {
    "asv_result_files": "Every asv result file `<machine>/<hash8>-<env>.json`, once per distinct content.",
    "asv_benchmark_files": "Every benchmarks.json of a results tree, once per distinct content.",
    "asv_machine_files": "Every `<machine>/machine.json`, once per distinct content.",
    "asv_config_files": "The source's asv.conf.json (comments stripped), once per distinct content.",
    "results_quarantine": "Results files that could not be loaded, with the reason and the bytes read.",
}


def build_results_ingest(sources: Sources) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    partitions = dg.StaticPartitionsDefinition([s.name for s in sources.results])

    @dg.multi_asset(
        name="raw_results_files",
        group_name="results",
        partitions_def=partitions,
        specs=[
            dg.AssetSpec(["raw", table], description=text, kinds={"duckdb"}, group_name="results")
            for table, text in RAW_RESULTS_TABLES.items()
        ],
        pool="duckdb_writer",
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=(
            "Load the `results:` sources of the run (one partition each, an asv results tree) into raw.*: every "
            "file once per distinct content, with provenance; unusable files go to raw.results_quarantine."
        ),
    )
    def raw_results_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        progress = progress_logger(context)

        def load(name: str) -> dict:
            source = sources.by_name(name)
            with warehouse.get_connection() as con:
                report = ingest_results_source(con, source, progress=progress, sources_file=sources.file)
            progress(report.summary())
            for path, reason in report.quarantine_reasons:
                context.log.warning(f"quarantined {source.name}/{path}: {reason}")
            loaded_by_table = {
                "asv_result_files": report.files_loaded.get("result", 0),
                "asv_benchmark_files": report.files_loaded.get("benchmarks", 0),
                "asv_machine_files": report.files_loaded.get("machine", 0),
                "asv_config_files": report.files_loaded.get("config", 0),
                "results_quarantine": report.files_quarantined,
            }
            return {
                ("raw", table): {
                    "files_loaded": loaded,
                    "files_seen": report.files_seen,
                    "files_unchanged": report.files_unchanged,
                    "files_quarantined": report.files_quarantined,
                    "source_path": dg.MetadataValue.path(str(source.path)),
                }
                for table, loaded in loaded_by_table.items()
            }

        # every partition of the run (one, or all of them from `datasmith materialize`), each on its own
        yield from materialize_each_partition(context, load)

    @dg.asset_check(asset=["raw", "asv_result_files"], description="No file version is stored twice.")
    def result_files_loaded_once(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.get_connection() as con:
            duplicates = con.execute(
                """select count(*) from (
                       select source_name, relative_path, sha256 from raw.asv_result_files
                       group by all having count(*) > 1)"""
            ).fetchone()[0]
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicated_versions": duplicates})

    return raw_results_files, result_files_loaded_once
