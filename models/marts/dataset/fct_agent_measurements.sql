-- Every measured value of every agent_results folder: one row per result file x benchmark x parameter
-- combination (asv schema 2), with its role: 'base' when the file measured the task's base commit,
-- else 'agent' (or only the entry's agent_commit, when given). Parameter text as in fct_measurements.
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
with files as (
    select * from {{ ref('stg_dataset__agent_result_files') }}
),

runs as (
    select * from {{ ref('fct_agent_runs') }}
),

rows as (
    select
        files.* exclude (results, result_columns, benchmark_entry),
        benchmark_entry.key                                                    as benchmark,
        cast(benchmark_entry.value as json[])[list_position(result_columns, 'result')] as result_json,
        cast(benchmark_entry.value as json[])[list_position(result_columns, 'params')] as params_json
    from (select *, unnest(map_entries(results)) as benchmark_entry from files) as files
),

shaped as (
    select
        rows.* exclude (result_json, params_json),
        case
            when json_type(result_json) = 'ARRAY' then cast(result_json as double[])
            when json_type(result_json) in ('DOUBLE', 'BIGINT', 'UBIGINT') then [cast(result_json as double)]
        end                                                     as result_values,
        coalesce(cast(params_json as varchar[][]), [])          as param_values,
        benchmarks.unit,
        {{ asv_param_names('coalesce(benchmarks.param_names, [])', 'coalesce(cast(params_json as varchar[][]), [])') }} as param_names
    from rows
    left join {{ ref('stg_dataset__agent_benchmarks') }} as benchmarks
        on benchmarks.agent_name = rows.agent_name and benchmarks.benchmark = rows.benchmark
),

expanded as (
    select
        * exclude (result_values, all_values, param_values, param_names, strides),
        unnest(range(len(all_values)))      as param_index,
        unnest(all_values)                  as value,
        unnest(list_transform(
            range(len(all_values)),
            lambda i: {{ asv_params_text('param_names', 'param_values', 'strides', 'i') }}
        ))                                  as params
    from (
        select
            *,
            {{ asv_grid_strides('param_values') }} as strides,
            coalesce(
                result_values,
                list_transform(range({{ asv_grid_size('param_values') }}), lambda i: cast(null as double))
            )                                      as all_values
        from shaped
    )
)

select
    expanded.agent_name,
    expanded.file_path,
    expanded.machine,
    expanded.env_name,
    expanded.commit_hash,
    case
        when runs.base_commit is not null and starts_with(expanded.commit_hash, runs.base_commit) then 'base'
        when runs.agent_commit is null or starts_with(expanded.commit_hash, runs.agent_commit) then 'agent'
        else 'other'
    end                                       as role,
    expanded.benchmark,
    cast(expanded.param_index as integer)     as param_index,
    expanded.params,
    expanded.unit,
    -- Failed (null) and skipped (NaN) runs carry no time.
    case when expanded.value is not null and not isnan(expanded.value) then expanded.value end as value,
    case
        when expanded.value is null then 'failed'
        when isnan(expanded.value) then 'skipped'
        else 'ok'
    end                                       as status,
    expanded.file_loaded_at
from expanded
left join runs on runs.agent_name = expanded.agent_name
