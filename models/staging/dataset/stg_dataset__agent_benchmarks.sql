-- One row per benchmark in the current benchmarks.json of each agent_results folder (for parameter names).
with latest as (
    select *
    from {{ source('dataset_agent_results', 'agent_result_files') }}
    where file_kind = 'benchmarks'
    qualify row_number() over (partition by agent_name, relative_path order by loaded_at desc, sha256) = 1
),

entries as (
    select
        latest.agent_name,
        entry.key   as benchmark,
        entry.value as description
    from latest,
        unnest(map_entries(json_transform(latest.content, '"MAP(VARCHAR, JSON)"'))) as benchmarks(entry)
    where entry.key <> 'version'
      and json_type(entry.value) = 'OBJECT'
)

select
    agent_name,
    benchmark,
    description ->> '$.type'                                        as benchmark_type,
    description ->> '$.unit'                                        as unit,
    coalesce(cast(description -> '$.param_names' as varchar[]), []) as param_names
from entries
qualify row_number() over (partition by agent_name, benchmark order by benchmark_type) = 1
