-- The current version of every asv result file: one row per file, its JSON fields typed.
with latest as (
    select *
    from {{ source('results', 'asv_result_files') }}
    qualify row_number() over (partition by source_name, relative_path order by loaded_at desc, sha256) = 1
)

select
    source_name,
    relative_path                                                  as file_path,
    tree_path,
    machine_dir                                                    as machine,
    sha256                                                         as file_sha256,
    size_bytes                                                     as file_size_bytes,
    loaded_at                                                      as file_loaded_at,
    content ->> '$.commit_hash'                                    as commit_hash,
    -- asv <0.3 files have no env_name; their file name `<hash8>-<env>.json` carries it.
    coalesce(
        content ->> '$.env_name',
        nullif(regexp_extract(relative_path, '/[0-9a-fA-F]+-([^/]+)\.json$', 1), '')
    )                                                              as env_name,
    make_timestamp(cast(content ->> '$.date' as bigint) * 1000)    as commit_date,
    content ->> '$.python'                                         as python,
    coalesce(cast(content ->> '$.version' as integer), 1)          as schema_version,
    cast(content -> '$.result_columns' as varchar[])               as result_columns,
    content -> '$.results'                                         as results,
    content -> '$.started_at'                                      as started_at_by_benchmark,
    content -> '$.benchmark_version'                               as version_by_benchmark,
    content -> '$.params'                                          as env_params,
    content -> '$.requirements'                                    as requirements
from latest
