"""The tables detection writes (detection.store); the Dagster WarehouseResource hands them to
ingest.warehouse.create_schema."""

DETECTION_DDL = """
-- Written by the `breakpoints` asset (detection/store.py); empty until detection has run, so the
-- marts that read them build from the first run on.
create schema if not exists detection;
create table if not exists detection.breakpoints (
    series_id varchar not null, method varchar not null, index_before bigint not null,
    index_after bigint not null, value_before double, value_after double, mean_before double,
    mean_after double, n_before bigint, n_after bigint, spread_before double, spread_after double,
    relative_change double, speedup double, direction varchar not null, p_value double,
    significant boolean, passes_floor boolean, detected_at timestamp not null
);
create table if not exists detection.skipped_series (
    series_id varchar not null, method varchar not null, reason varchar not null, detected_at timestamp not null
);
"""
