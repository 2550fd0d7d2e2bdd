-- One row per benchmark a dashboard's current index.json describes, with its parameter grid.
with unnested as (
    select
        source_name,
        file_loaded_at,
        unnest(map_entries(json_transform(benchmarks, '"MAP(VARCHAR, JSON)"'))) as entry
    from {{ ref('stg_dashboards__indexes') }}
)

select
    source_name,
    file_loaded_at,
    entry.key                                                            as benchmark,
    entry.value ->> '$.type'                                             as benchmark_type,
    entry.value ->> '$.unit'                                             as unit,
    coalesce(cast(entry.value -> '$.param_names' as varchar[]), [])      as param_names,
    coalesce(cast(entry.value -> '$.params' as varchar[][]), [])         as param_grid,
    entry.value ->> '$.version'                                          as benchmark_version
from unnested
