-- One row per dashboard series point x parameter combination: a series file holds [[x, y], ...]
-- with y a number, null, or one value per combination of the benchmark's current grid.
with series as (
    select * from {{ ref('stg_dashboard__files') }} where kind = 'series'
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
        * exclude (y, y_values, y_json),
        unnest(range(len(y_values)))  as param_index,
        unnest(y_values)              as value,
        unnest(y_json)                as y_value,
        len(y_values)                 as n_values
    from (
        select
            *,
            -- y read by JSON type: a value that is not a number is null here and 'invalid' with the
            -- reason below, never a cast error that stops the model for every source.
            case
                when json_type(y) = 'ARRAY' then {{ json_list_numbers('cast(y as json[])') }}
                else [{{ json_number('y', 'double') }}]
            end as y_values,
            case
                when json_type(y) = 'ARRAY' then cast(y as json[])
                else [y]
            end as y_json
        from points
    )
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
        when {{ json_not_number('expanded.y_value') }} then 'invalid'
        when expanded.value is null then 'failed'
        when isnan(expanded.value) then 'skipped'
        else 'ok'
    end as status,
    case
        when {{ json_not_number('expanded.y_value') }}
            then 'series value is a JSON ' || lower(json_type(expanded.y_value)) || ', not a number'
    end as problem,
    benchmarks.benchmark_type,
    benchmarks.unit,
    benchmarks.benchmark_version,
    benchmarks.file_loaded_at as index_loaded_at,
    indexes.site_repo
from expanded
left join {{ ref('int_dashboard__commits') }} as commits
    on commits.source_name = expanded.source_name and commits.x_key = expanded.x_key
left join {{ ref('stg_dashboard__benchmarks') }} as benchmarks
    on benchmarks.source_name = expanded.source_name and benchmarks.benchmark = expanded.benchmark
left join {{ ref('stg_dashboard__indexes') }} as indexes
    on indexes.source_name = expanded.source_name
left join {{ ref('int_dashboard__param_combinations') }} as combinations
    on combinations.source_name = expanded.source_name
    and combinations.benchmark = expanded.benchmark
    and combinations.param_index = expanded.param_index
