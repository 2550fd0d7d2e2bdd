-- One row per dashboard series point x parameter combination: a series file holds [[x, y], ...]
-- with y a number, null, or one value per combination of the benchmark's current grid.
with series as (
    select * from {{ ref('stg_dashboards__files') }} where kind = 'series'
),

points as (
    select
        * exclude (content, point),
        cast(cast(point -> '$[0]' as double) as bigint)::varchar as x_key,
        point -> '$[1]' as y
    from (select *, unnest(cast(content as json[])) as point from series)
),

expanded as (
    select
        * exclude (y, y_json),
        unnest(range(len(y_json)))  as param_index,
        unnest(y_json)              as y_value,
        len(y_json)                 as n_values
    from (
        select *, case when json_type(y) = 'ARRAY' then cast(y as json[]) else [y] end as y_json
        from points
    )
),

-- Each value read by its JSON type: one that is not a number is null and 'invalid' with the reason,
-- never a cast error that stops the model for every source.
judged as (
    select
        *,
        {{ json_number('y_value', 'double') }} as value,
        case
            when {{ json_not_number('y_value') }}
                then 'series value is a JSON ' || lower(json_type(y_value)) || ', not a number'
        end as problem
    from expanded
)

select
    expanded.source_name,
    expanded.file_path,
    expanded.file_sha256,
    expanded.file_loaded_at,
    expanded.machine,
    expanded.env_name,
    expanded.config,
    expanded.benchmark,
    cast(expanded.param_index as integer) as param_index,
    -- A vector that does not fit the grid cannot be labelled: its params stay null.
    case when combinations.n_combinations = expanded.n_values then combinations.params end as params,
    commits.commit_hash,
    commits.revision,
    commits.commit_date,
    expanded.value,
    case
        when expanded.problem is not null then 'invalid'
        when expanded.value is null then 'failed'
        when isnan(expanded.value) then 'skipped'
        else 'ok'
    end as status,
    expanded.problem,
    benchmarks.benchmark_type,
    benchmarks.unit,
    benchmarks.benchmark_version,
    benchmarks.file_loaded_at as index_loaded_at,
    indexes.site_repo
from judged as expanded
left join {{ ref('int_dashboards__commits') }} as commits
    on commits.source_name = expanded.source_name and commits.x_key = expanded.x_key
left join {{ ref('stg_dashboards__benchmarks') }} as benchmarks
    on benchmarks.source_name = expanded.source_name and benchmarks.benchmark = expanded.benchmark
left join {{ ref('stg_dashboards__indexes') }} as indexes
    on indexes.source_name = expanded.source_name
left join {{ ref('int_dashboards__param_combinations') }} as combinations
    on combinations.source_name = expanded.source_name
    and combinations.benchmark = expanded.benchmark
    and combinations.param_index = expanded.param_index
