-- One row per result file x benchmark x parameter combination.
-- The combinations follow itertools.product over the row's OWN params (the last parameter varies
-- fastest), because a benchmark's grid can change over time and old rows keep their own grid.
-- Parameter names come from the tree's benchmarks.json when it lists as many as the row has values
-- for; otherwise they are param1, param2, ... as asv names unnamed parameters.
-- A row whose grid does not fit its values (as many combinations as values) cannot be labelled: its
-- params stay null and its rows are 'invalid' with the reason, as the dashboard models leave them null
-- (a label index wrapping round the grid mixed several workloads into one series).
with rows as (
    select
        *,
        {{ asv_grid_strides('coalesce(param_values, [])') }}     as strides,
        {{ asv_grid_size('coalesce(param_values, [])') }}        as n_combinations
    from {{ ref('int_results__benchmark_rows') }}
),

fitted as (
    select
        *,
        param_values is not null and (result_values is null or len(result_values) = n_combinations) as grid_fits,
        case
            when param_values is null then 'params is not a list of lists: the combinations cannot be labelled'
            when result_values is not null and len(result_values) <> n_combinations
                then 'the params grid has ' || n_combinations || ' combinations but the result has '
                    || len(result_values) || ' values: params unknown'
        end as grid_problem
    from rows
),

described as (
    select
        rows.*,
        benchmarks.benchmark_type  as described_type,
        benchmarks.unit            as described_unit,
        benchmarks.file_loaded_at  as benchmarks_loaded_at,
        {{ asv_param_names('coalesce(benchmarks.param_names, [])', 'coalesce(rows.param_values, [])') }} as param_names,
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
    from fitted as rows
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
            result_values, result_types, param_values, param_names, strides, ci_99_a, ci_99_b, q_25, q_75,
            stats_number, stats_repeat, n_samples
        ),
        unnest(range(len(all_values)))                             as param_index,
        unnest(all_values)                                         as value,
        unnest(result_types)                                       as value_type,
        unnest(case when grid_fits then list_transform(
            range(len(all_values)),
            lambda i: {{ asv_params_text('param_names', 'param_values', 'strides', 'i') }}
        ) end)                                                     as params,
        unnest(ci_99_a)                                            as ci_99_a,
        unnest(ci_99_b)                                            as ci_99_b,
        unnest(q_25)                                               as q_25,
        unnest(q_75)                                               as q_75,
        unnest(stats_number)                                       as stats_number,
        unnest(stats_repeat)                                       as stats_repeat,
        unnest(n_samples)                                          as n_samples
    from (
        select
            *,
            case
                when result_values is null then list_transform(range(n_combinations), lambda i: cast(null as double))
                when len(result_values) = 0 then [cast(null as double)]  -- kept as one row, with grid_problem
                else result_values
            end as all_values
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
        when value_problem is not null then 'invalid'
        when value is null then 'failed'
        when isnan(value) then 'skipped'
        else 'ok'
    end as status,
    -- Why the status is 'invalid', else what in the row could not be read (null when nothing).
    coalesce(value_problem, row_problem) as problem,
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
from (
    select
        *,
        coalesce(
            result_problem,
            grid_problem,
            case when coalesce(value_type, 'NULL') not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')
                 then 'result value is a JSON ' || lower(value_type) || ', not a number' end
        ) as value_problem
    from expanded
)
