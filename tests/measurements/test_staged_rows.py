"""Schema-2 benchmark rows staged by the earlier version (as JSON in `results`, before `result_rows`
existed) collate to exactly the same measurements as rows staged now."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.support.common import fixture_path, materialize, write_sources
from tests.support.common import read_rows as rows

# Every measurement, every column (NaN as 'nan'), as one digest and a count.
DIGEST = """
select count(*), md5(string_agg(row_text, '|' order by row_text))
from (select cast(m as varchar) as row_text from (select * exclude (loaded_at) from main.fct_measurements) as m)
"""


@pytest.mark.slow  # two small `datasmith materialize` runs
def test_schema2_rows_staged_by_the_earlier_version_collate_the_same(tmp_path):
    conda = fixture_path("results", "conda")  # schema-2 files with grids, stats, samples, NaN and null
    root = tmp_path / "conda"
    shutil.copytree(conda / "results", root / "results")
    shutil.copy(conda / "asv.conf.json", root)
    sources = write_sources(tmp_path, {"conda": root}, {"conda": "conda/conda"})
    db = tmp_path / "w.duckdb"
    assert materialize(sources, db) == 0
    staged_v2 = rows(db, "select count(*) from staging.stg_results__result_files where schema_version = 2")[
        0
    ][0]
    assert staged_v2 > 0
    before = rows(db, DIGEST)[0]
    assert before[0] > 0

    # The staging table as the earlier version left it: schema-2 rows in `results` as JSON text, no
    # `result_rows` column; fct_measurements dropped so that it is collated again from those rows.
    con = duckdb.connect(str(db))
    try:
        con.execute(
            """update staging.stg_results__result_files
               set results = map_from_entries(list_transform(
                   map_entries(result_rows), lambda e: {'key': e.key, 'value': to_json(e.value)}))
               where schema_version = 2"""
        )
        con.execute("alter table staging.stg_results__result_files drop column result_rows")
        con.execute("drop table main.fct_measurements")
    finally:
        con.close()

    assert materialize(sources, db) == 0
    assert rows(db, "select count(*) from staging.stg_results__result_files where result_rows is null")[0][
        0
    ] == (
        staged_v2
        + rows(db, "select count(*) from staging.stg_results__result_files where schema_version = 1")[0][0]
    )
    assert rows(db, DIGEST)[0] == before
