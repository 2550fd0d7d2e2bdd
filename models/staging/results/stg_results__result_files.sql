{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_name', 'file_path'],
        on_schema_change='append_new_columns',
    )
}}
-- The current version of every asv result file: one row per file, its JSON fields typed.
-- The document is parsed once, into a struct of the top-level fields (every `->>` on the raw text
-- would parse the whole file again). Schema-2 benchmark rows are read straight into lists of JSON
-- (`result_rows`): reading each row as one JSON text and casting it to json[] downstream parsed it twice
-- (measured: the transform is faster, and the cast was about 8% of fct_measurements' time). Schema-1
-- files, whose rows are numbers or objects, are read again for `results` (they are few). A table, incremental by load time, so that later models can
-- read just the files loaded since their last run.
with latest as (
    select *
    from {{ source('results', 'asv_result_files') }}
    {% if is_incremental() %}
    -- Safe before the dedup: a file's newest version is the one loaded last.
    where loaded_at > (select coalesce(max(file_loaded_at), '-infinity'::timestamp) from {{ this }})
    {% endif %}
    qualify row_number() over (partition by source_name, relative_path order by loaded_at desc, sha256) = 1
),

parsed as (
    select
        *,
        json_transform(content, '{
            "commit_hash": "VARCHAR", "env_name": "VARCHAR", "date": "BIGINT", "python": "VARCHAR",
            "version": "INTEGER", "result_columns": "VARCHAR[]", "results": "MAP(VARCHAR, JSON[])",
            "started_at": "JSON", "benchmark_version": "JSON", "params": "JSON", "requirements": "JSON"
        }') as doc
    from latest
),

-- A schema-1 file's rows are not lists: its `results` is read as JSON per benchmark instead.
with_v1 as (
    select
        * exclude (content),
        case when coalesce(doc.version, 1) = 1
             then json_transform(content, '{"results": "MAP(VARCHAR, JSON)"}').results end as v1_results
    from parsed
)

select
    source_name,
    relative_path                                      as file_path,
    tree_path,
    machine_dir                                        as machine,
    sha256                                             as file_sha256,
    size_bytes                                         as file_size_bytes,
    loaded_at                                          as file_loaded_at,
    doc.commit_hash                                    as commit_hash,
    -- asv <0.3 files have no env_name; their file name `<hash8>-<env>.json` carries it.
    coalesce(
        doc.env_name,
        nullif(regexp_extract(relative_path, '/[0-9a-fA-F]+-([^/]+)\.json$', 1), '')
    )                                                  as env_name,
    try(make_timestamp(doc.date * 1000))               as commit_date,  -- null, not an overflow error
    doc.python                                         as python,
    coalesce(doc.version, 1)                           as schema_version,
    doc.result_columns                                 as result_columns,
    v1_results                                         as results,
    case when coalesce(doc.version, 1) = 2 then doc.results end as result_rows,
    doc.started_at                                     as started_at_by_benchmark,
    doc.benchmark_version                              as version_by_benchmark,
    doc.params                                         as env_params,
    doc.requirements                                   as requirements
from with_v1
