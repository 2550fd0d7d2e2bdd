"""The detection stage's assets: change points of every series (detection.breakpoints, detection.skipped_series)
and the replication plots (plain Python in detection/)."""

import os

import dagster as dg
from pydantic import Field

from assets.dbt_keys import model_keys
from assets.progress import progress_logger
from assets.resources import WarehouseResource


class DetectionSettings(dg.Config):
    """Detection settings, editable in the launchpad of `dagster dev`."""

    methods: list[str] = Field(default_factory=lambda: ["rbf", "asv"])
    rbf_penalty: float | None = None
    rbf_min_size: int = 2
    min_points: int = 4
    magnitude_floor: float = 0.05
    significance_alpha: float = 0.05
    workers: int | None = None  # None: all cores
    # Detection is incremental (only series whose points changed are re-detected, detection/store.py);
    # True re-detects every series. The environment variable DATASMITH_DETECTION_FULL=1 does the
    # same, for `datasmith materialize`.
    full_refresh: bool = False


def build_detection_definitions() -> dg.Definitions:
    """Detection's assets; their deps on dbt models carry the dbt layer's keys (assets.dbt_keys)."""
    points = model_keys("fct_series_points", "dim_series")

    @dg.multi_asset(
        name="detect_breakpoints",
        specs=[
            dg.AssetSpec(
                ["detection", "breakpoints"],
                deps=points,
                group_name="detection",
                kinds={"python", "duckdb"},
                description=(
                    "Every change point of every series, both directions, by ruptures (RBF kernel, jump=1) "
                    "and asv's step detection, with segment statistics, speed-up and significance. "
                    "Incremental: only series whose points changed are re-detected (full_refresh: all)."
                ),
            ),
            dg.AssetSpec(
                ["detection", "skipped_series"],
                deps=points,
                group_name="detection",
                kinds={"python", "duckdb"},
                description="Series a method could not run on (too short, constant, ...), with the reason.",
            ),
        ],
        pool="duckdb_writer",
    )
    def detect_breakpoints(
        context: dg.AssetExecutionContext, config: DetectionSettings, warehouse: WarehouseResource
    ):
        from detection.steps import DetectionConfig
        from detection.store import run_detection

        settings = DetectionConfig(
            methods=tuple(config.methods),
            rbf_penalty=config.rbf_penalty,
            rbf_min_size=config.rbf_min_size,
            min_points=config.min_points,
            magnitude_floor=config.magnitude_floor,
            significance_alpha=config.significance_alpha,
        )

        progress = progress_logger(context)
        with warehouse.get_connection() as con:
            report = run_detection(
                con,
                settings,
                workers=config.workers,
                progress=progress,
                full=config.full_refresh or os.environ.get("DATASMITH_DETECTION_FULL", "") == "1",
            )
        yield dg.MaterializeResult(
            asset_key=["detection", "breakpoints"],
            metadata={
                "series": report.series,
                "series_detected": report.detected,
                "series_kept": report.kept,
                "series_dropped": report.dropped,
                "full_run": report.full,
                **{f"change_points_{m}": n for m, n in report.change_points.items()},
                **{f"improvements_{m}": n for m, n in report.improvements.items()},
            },
        )
        yield dg.MaterializeResult(
            asset_key=["detection", "skipped_series"],
            metadata={f"skipped_{m}": n for m, n in report.skipped.items()},
        )

    @dg.asset(
        deps=model_keys("fct_replication", "fct_replication_pairs", "dim_series", "fct_series_points"),
        group_name="detection",
        kinds={"python", "matplotlib"},
        pool="duckdb_writer",
        description=(
            "Scatter (log speed-up A vs B, with the identity line), Bland-Altman and the series of the largest "
            "change, for every pair of measurement sets and method, written under artifacts/replication/."
        ),
    )
    def replication_plots(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        import base64
        from pathlib import Path

        from detection.replication import write_plots

        folder = Path(warehouse.database).resolve().parent / "replication"
        with warehouse.get_connection() as con:
            written = write_plots(con, folder)
        if not written:
            context.log.warning(
                "no pair of measurement sets shares a series and a change point: nothing to compare "
                "(see fct_replication_set_pairs for the pairs considered)"
            )
        preview = "\n\n".join(
            f"![{path.name}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
            for path in written[:4]
        )
        return dg.MaterializeResult(
            metadata={
                "plots": len(written),
                "folder": dg.MetadataValue.path(str(folder)),
                "preview": dg.MetadataValue.md(preview or "no pairs to plot"),
            }
        )

    return dg.Definitions(assets=[detect_breakpoints, replication_plots])
