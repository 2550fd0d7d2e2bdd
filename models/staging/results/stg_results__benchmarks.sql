-- One row per benchmark described in the current benchmarks.json of each results tree.
with latest as (
    select *
    from {{ source('results', 'asv_benchmark_files') }}
    qualify row_number() over (partition by source_name, relative_path order by loaded_at desc, sha256) = 1
),

entries as (
    select
        latest.source_name,
        latest.tree_path,
        latest.relative_path,
        latest.loaded_at,
        entry.key   as benchmark,
        entry.value as description
    from latest,
        unnest(map_entries(json_transform(latest.content, '"MAP(VARCHAR, JSON)"'))) as benchmarks(entry)
    where entry.key <> 'version'
      and json_type(entry.value) = 'OBJECT'
)

select
    source_name,
    tree_path,
    relative_path                                                 as file_path,
    loaded_at                                                     as file_loaded_at,
    benchmark,
    description ->> '$.type'                                      as benchmark_type,
    description ->> '$.unit'                                      as unit,
    -- try_cast: a benchmarks.json field of another type is left empty or null, not a model failure.
    coalesce(try_cast(description -> '$.param_names' as varchar[]), []) as param_names,
    coalesce(try_cast(description -> '$.params' as varchar[][]), [])  as param_grid,
    description ->> '$.version'                                   as benchmark_version,
    {{ json_number("description -> '$.timeout'", 'double') }}     as timeout_s,
    description ->> '$.pretty_name'                               as pretty_name,
    description ->> '$.code'                                      as code
from entries
