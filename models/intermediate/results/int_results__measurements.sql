-- One row per result file x benchmark x parameter combination.
-- The combinations follow itertools.product over the row's OWN params (the last parameter varies
-- fastest), because a benchmark's grid can change over time and old rows keep their own grid.
-- Parameter names come from the tree's benchmarks.json when it lists as many as the row has values
-- for; otherwise they are param1, param2, ... as asv names unnamed parameters.
with rows as (
    select
        *,
        {{ asv_grid_strides('param_values') }}     as strides,
        {{ asv_grid_size('param_values') }}        as n_combinations
    from {{ ref('int_results__benchmark_rows') }}
),

described as (
    select
        rows.*,
        benchmarks.benchmark_type  as described_type,
        benchmarks.unit            as described_unit,
        benchmarks.file_loaded_at  as benchmarks_loaded_at,
        {{ asv_param_names('coalesce(benchmarks.param_names, [])', 'rows.param_values') }} as param_names,
        -- Type and unit per benchmark row, before the expansion (a third of the rows), and the name
        -- rules only where benchmarks.json has no entry: `case` evaluates a branch only for the rows
        -- that reach it, where `coalesce` ran every regex on every measurement row.
        case
            when benchmarks.benchmark_type is not null then benchmarks.benchmark_type
            when regexp_matches(rows.benchmark, '(^|\.)time_[^.]*$') then 'time'
            when regexp_matches(rows.benchmark, '(^|\.)peakmem_[^.]*$') then 'peakmemory'
            when regexp_matches(rows.benchmark, '(^|\.)mem_[^.]*$') then 'memory'
            when regexp_matches(rows.benchmark, '(^|\.)track_[^.]*$') then 'track'
        end                        as benchmark_type,
        case
            when benchmarks.unit is not null then benchmarks.unit
            when regexp_matches(rows.benchmark, '(^|\.)time_[^.]*$') then 'seconds'
            when regexp_matches(rows.benchmark, '(^|\.)(peak)?mem_[^.]*$') then 'bytes'
        end                        as unit
    from rows
    left join {{ ref('stg_results__benchmarks') }} as benchmarks
        on benchmarks.source_name = rows.source_name
        and benchmarks.tree_path = rows.tree_path
        and benchmarks.benchmark = rows.benchmark
),

-- All lists parallel to the result vector are unnested side by side in one pass (a row's lists are
-- never copied once per combination, which would be quadratic in the grid size).
expanded as (
    select
        * exclude (
            result_values, param_values, param_names, strides, ci_99_a, ci_99_b, q_25, q_75,
            stats_number, stats_repeat, samples
        ),
        unnest(range(len(all_values)))                             as param_index,
        unnest(all_values)                                         as value,
        unnest(list_transform(
            range(len(all_values)),
            lambda i: {{ asv_params_text('param_names', 'param_values', 'strides', 'i') }}
        ))                                                         as params,
        unnest(ci_99_a)                                            as ci_99_a,
        unnest(ci_99_b)                                            as ci_99_b,
        unnest(q_25)                                               as q_25,
        unnest(q_75)                                               as q_75,
        unnest(stats_number)                                       as stats_number,
        unnest(stats_repeat)                                       as stats_repeat,
        unnest(list_transform(samples, lambda s: json_array_length(s))) as n_samples
    from (
        select
            *,
            coalesce(result_values, list_transform(range(n_combinations), lambda i: cast(null as double)))
                as all_values
        from described
    )
)

select
    source_name,
    file_path,
    tree_path,
    machine,
    file_sha256,
    file_loaded_at,
    benchmarks_loaded_at,
    commit_hash,
    env_name,
    commit_date,
    benchmark,
    cast(param_index as integer) as param_index,
    params,
    value,
    case
        when value is null then 'failed'
        when isnan(value) then 'skipped'
        else 'ok'
    end as status,
    benchmark_type,
    unit,
    described_type is not null as described_in_benchmarks_json,
    ci_99_a,
    ci_99_b,
    q_25,
    q_75,
    cast(stats_number as bigint) as stats_number,
    cast(stats_repeat as bigint) as stats_repeat,
    cast(n_samples as integer)   as n_samples,
    benchmark_version,
    started_at,
    duration_s
from expanded
