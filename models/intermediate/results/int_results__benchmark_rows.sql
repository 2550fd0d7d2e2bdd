-- One row per result file x benchmark, with asv's schema v1 and v2 layouts brought to one shape:
-- lists parallel to the result vector (one element per parameter combination).
--   v2: each benchmark is a positional list named by the file's `result_columns`, trailing nulls cut.
--   v1: a plain number or null, {"result": [...], "stats": [...]}, or {"params": [...], "result": [...]}
--       (asv's own Results.update_to_2 maps these the same way).
with files as (
    select * from {{ ref('stg_results__result_files') }}
),

-- Unnesting in the select list: a lateral join over the same map is an order of magnitude slower.
entries as (
    select
        * exclude (benchmark_entry),
        benchmark_entry.key   as benchmark,
        benchmark_entry.value as entry
    from (
        select
            * exclude (results),
            unnest(map_entries(results)) as benchmark_entry
        from files
    )
),

v2 as (
    select
        * exclude (entry),
        cast(entry as json[]) as cols
    from entries
    where schema_version = 2
),

v2_rows as (
    select
        * exclude (cols, result_columns),
        cols[list_position(result_columns, 'result')]         as result_json,
        cols[list_position(result_columns, 'params')]         as params_json,
        cols[list_position(result_columns, 'version')] ->> '$' as row_version,
        cast(cols[list_position(result_columns, 'started_at')] as bigint) as started_at_ms,
        cast(cols[list_position(result_columns, 'duration')] as double)   as duration_s,
        cast(cols[list_position(result_columns, 'stats_ci_99_a')] as double[]) as ci_99_a,
        cast(cols[list_position(result_columns, 'stats_ci_99_b')] as double[]) as ci_99_b,
        cast(cols[list_position(result_columns, 'stats_q_25')] as double[])    as q_25,
        cast(cols[list_position(result_columns, 'stats_q_75')] as double[])    as q_75,
        cast(cols[list_position(result_columns, 'stats_number')] as double[])  as stats_number,
        cast(cols[list_position(result_columns, 'stats_repeat')] as double[])  as stats_repeat,
        cast(cols[list_position(result_columns, 'samples')] as json[])         as samples
    from v2
),

v1_rows as (
    select
        * exclude (entry, result_columns),
        case when json_type(entry) = 'OBJECT' then entry -> '$.result' else entry end as result_json,
        case when json_type(entry) = 'OBJECT' then entry -> '$.params' end        as params_json,
        json_extract_string(version_by_benchmark, '$."' || benchmark || '"')                             as row_version,
        cast(json_extract_string(started_at_by_benchmark, '$."' || benchmark || '"') as bigint)          as started_at_ms,
        cast(null as double)                                                       as duration_s,
        -- v1 stats: a list of {"ci_99": [a, b], "q_25": ..., ...} (or one such dict), one per combination.
        case when json_type(entry -> '$.stats') = 'OBJECT'
             then [entry -> '$.stats'] else cast(entry -> '$.stats' as json[]) end as v1_stats,
        cast(entry -> '$.samples' as json[])                                       as samples
    from entries
    where schema_version = 1
),

v1_shaped as (
    select
        * exclude (v1_stats, samples),
        list_transform(v1_stats, lambda s: cast(s -> '$.ci_99[0]' as double)) as ci_99_a,
        list_transform(v1_stats, lambda s: cast(s -> '$.ci_99[1]' as double)) as ci_99_b,
        list_transform(v1_stats, lambda s: cast(s -> '$.q_25' as double))     as q_25,
        list_transform(v1_stats, lambda s: cast(s -> '$.q_75' as double))     as q_75,
        list_transform(v1_stats, lambda s: cast(s -> '$.number' as double))   as stats_number,
        list_transform(v1_stats, lambda s: cast(s -> '$.repeat' as double))   as stats_repeat,
        samples
    from v1_rows
),

unioned as (
    select * from v2_rows
    union all by name
    select * from v1_shaped
)

select
    source_name,
    file_path,
    tree_path,
    machine,
    file_sha256,
    file_loaded_at,
    commit_hash,
    env_name,
    commit_date,
    python,
    schema_version,
    benchmark,
    -- A whole row of null means the benchmark failed (or did not run) for every combination.
    case
        when json_type(result_json) = 'ARRAY' then cast(result_json as double[])
        when json_type(result_json) in ('DOUBLE', 'BIGINT', 'UBIGINT') then [cast(result_json as double)]
    end                                                       as result_values,
    coalesce(cast(params_json as varchar[][]), [])            as param_values,
    row_version                                               as benchmark_version,
    case when started_at_ms is not null then make_timestamp(started_at_ms * 1000) end as started_at,
    duration_s,
    ci_99_a,
    ci_99_b,
    q_25,
    q_75,
    stats_number,
    stats_repeat,
    samples
from unioned
