-- One row per result file x benchmark x parameter combination.
-- The combinations follow itertools.product over the row's OWN params (the last parameter varies
-- fastest), because a benchmark's grid can change over time and old rows keep their own grid.
-- Parameter names come from the tree's benchmarks.json when it lists as many as the row has values
-- for; otherwise they are param1, param2, ... as asv names unnamed parameters.
with rows as (
    select
        *,
        len(param_values) as n_params,
        list_transform(
            range(len(param_values)),
            lambda j: cast(coalesce(list_aggregate(list_transform(param_values[j + 2:], lambda p: len(p)), 'product'), 1) as bigint)
        ) as strides,
        cast(coalesce(list_aggregate(list_transform(param_values, lambda p: len(p)), 'product'), 1) as bigint) as n_combinations
    from {{ ref('int_results__benchmark_rows') }}
),

described as (
    select
        rows.*,
        benchmarks.benchmark_type  as described_type,
        benchmarks.unit            as described_unit,
        benchmarks.file_loaded_at  as benchmarks_loaded_at,
        case
            when len(benchmarks.param_names) = rows.n_params then benchmarks.param_names
            else list_transform(range(rows.n_params), lambda j: 'param' || (j + 1))
        end as param_names
    from rows
    left join {{ ref('stg_results__benchmarks') }} as benchmarks
        on benchmarks.source_name = rows.source_name
        and benchmarks.tree_path = rows.tree_path
        and benchmarks.benchmark = rows.benchmark
),

expanded as (
    select
        described.*,
        combination.value,
        cast(combination.ordinal - 1 as integer) as param_index
    from described,
        unnest(
            coalesce(result_values, list_transform(range(n_combinations), lambda i: cast(null as double)))
        ) with ordinality as combination(value, ordinal)
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
    param_index,
    array_to_string(
        list_transform(
            range(n_params),
            lambda j: param_names[j + 1] || '='
                || param_values[j + 1][(param_index // strides[j + 1]) % len(param_values[j + 1]) + 1]
        ),
        ', '
    ) as params,
    value,
    case
        when value is null then 'failed'
        when isnan(value) then 'skipped'
        else 'ok'
    end as status,
    coalesce(
        described_type,
        case
            when regexp_matches(benchmark, '(^|\.)time_[^.]*$') then 'time'
            when regexp_matches(benchmark, '(^|\.)peakmem_[^.]*$') then 'peakmemory'
            when regexp_matches(benchmark, '(^|\.)mem_[^.]*$') then 'memory'
            when regexp_matches(benchmark, '(^|\.)track_[^.]*$') then 'track'
        end
    ) as benchmark_type,
    coalesce(
        described_unit,
        case
            when regexp_matches(benchmark, '(^|\.)time_[^.]*$') then 'seconds'
            when regexp_matches(benchmark, '(^|\.)(peak)?mem_[^.]*$') then 'bytes'
        end
    ) as unit,
    described_type is not null as described_in_benchmarks_json,
    ci_99_a[param_index + 1]      as ci_99_a,
    ci_99_b[param_index + 1]      as ci_99_b,
    q_25[param_index + 1]         as q_25,
    q_75[param_index + 1]         as q_75,
    cast(stats_number[param_index + 1] as bigint) as stats_number,
    cast(stats_repeat[param_index + 1] as bigint) as stats_repeat,
    json_array_length(samples[param_index + 1])   as n_samples,
    benchmark_version,
    started_at,
    duration_s
from expanded
