-- One row per result file x benchmark, with asv's schema v1 and v2 layouts brought to one shape:
-- lists parallel to the result vector (one element per parameter combination).
--   v2: each benchmark is a positional list named by the file's `result_columns`, trailing nulls cut.
--   v1: a plain number or null, {"result": [...], "stats": [...]}, or {"params": [...], "result": [...]}
--       (asv's own Results.update_to_2 maps these the same way).
-- Every number is read by its JSON type (macros/asv_json.sql): a field of the wrong type becomes null
-- and is named in `row_problem`, a result value of the wrong type is flagged per value, and no value
-- can fail the model. Schema-1 per-benchmark dicts are read as maps by key, never through a JSON path
-- built from the benchmark's name (a name with `"` broke that).
with files as (
    select
        * exclude (started_at_by_benchmark, version_by_benchmark),
        json_transform(started_at_by_benchmark, '"MAP(VARCHAR, JSON)"') as started_at_map,
        json_transform(version_by_benchmark, '"MAP(VARCHAR, JSON)"')    as version_map
    from {{ ref('stg_results__result_files') }}
),

-- Unnesting in the select list: a lateral join over the same map is an order of magnitude slower.
-- Schema 1: each benchmark's row as JSON.
entries as (
    select
        * exclude (benchmark_entry),
        benchmark_entry.key   as benchmark,
        benchmark_entry.value as entry
    from (
        select
            * exclude (results, result_rows),
            unnest(map_entries(results)) as benchmark_entry
        from files
        where schema_version = 1
    )
),

-- Schema 2: each benchmark's row as its list of columns, read so by staging. A row staged before
-- `result_rows` existed (a warehouse built by an earlier version) still has its row in `results`.
v2 as (
    select
        * exclude (benchmark_entry),
        benchmark_entry.key   as benchmark,
        benchmark_entry.value as cols
    from (
        select
            * exclude (results, result_rows),
            unnest(map_entries(result_rows)) as benchmark_entry
        from files
        where schema_version = 2 and result_rows is not null
    )
    union all by name
    select
        * exclude (benchmark_entry),
        benchmark_entry.key                  as benchmark,
        cast(benchmark_entry.value as json[]) as cols
    from (
        select
            * exclude (results, result_rows),
            unnest(map_entries(results)) as benchmark_entry
        from files
        where schema_version = 2 and result_rows is null
    )
),

-- The fields of both schemas as JSON, before any typing.
v2_rows as (
    select
        * exclude (cols, result_columns, started_at_map, version_map),
        cols[list_position(result_columns, 'result')]         as result_json,
        cols[list_position(result_columns, 'params')]         as params_json,
        cols[list_position(result_columns, 'version')] ->> '$' as row_version,
        cols[list_position(result_columns, 'started_at')]     as started_at_json,
        cols[list_position(result_columns, 'duration')]       as duration_json,
        cols[list_position(result_columns, 'stats_ci_99_a')]  as ci_99_a_json,
        cols[list_position(result_columns, 'stats_ci_99_b')]  as ci_99_b_json,
        cols[list_position(result_columns, 'stats_q_25')]     as q_25_json,
        cols[list_position(result_columns, 'stats_q_75')]     as q_75_json,
        cols[list_position(result_columns, 'stats_number')]   as stats_number_json,
        cols[list_position(result_columns, 'stats_repeat')]   as stats_repeat_json,
        cols[list_position(result_columns, 'samples')]        as samples_json
    from v2
),

v1_rows as (
    select
        * exclude (entry, result_columns, started_at_map, version_map),
        case when json_type(entry) = 'OBJECT' then entry -> '$.result' else entry end as result_json,
        case when json_type(entry) = 'OBJECT' then entry -> '$.params' end        as params_json,
        version_map[benchmark] ->> '$'                                             as row_version,
        started_at_map[benchmark]                                                  as started_at_json,
        cast(null as json)                                                         as duration_json,
        -- v1 stats: a list of {"ci_99": [a, b], "q_25": ..., ...} (or one such dict), one per combination.
        case when json_type(entry -> '$.stats') = 'OBJECT' then to_json([entry -> '$.stats'])
             else entry -> '$.stats' end                                           as v1_stats,
        entry -> '$.samples'                                                       as samples_json
    from entries
    where schema_version = 1
),

v1_shaped as (
    select
        * exclude (v1_stats, stats),
        to_json(list_transform(stats, lambda s: s -> '$.ci_99[0]')) as ci_99_a_json,
        to_json(list_transform(stats, lambda s: s -> '$.ci_99[1]')) as ci_99_b_json,
        to_json(list_transform(stats, lambda s: s -> '$.q_25'))     as q_25_json,
        to_json(list_transform(stats, lambda s: s -> '$.q_75'))     as q_75_json,
        to_json(list_transform(stats, lambda s: s -> '$.number'))   as stats_number_json,
        to_json(list_transform(stats, lambda s: s -> '$.repeat'))   as stats_repeat_json,
        -- stats of another shape are flagged (below) rather than read
        coalesce(json_type(v1_stats) not in ('ARRAY', 'OBJECT', 'NULL'), false) as stats_not_list
    from (
        select
            *,
            case when json_type(v1_stats) = 'ARRAY'
                 then list_transform(cast(v1_stats as json[]), lambda s: case when json_type(s) = 'OBJECT' then s end)
            end as stats
        from v1_rows
    )
),

unioned as (
    select *, false as stats_not_list from v2_rows
    union all by name
    select * from v1_shaped
),

-- Per-combination lists: each list's element types and its values, one parse each (json_type over
-- '$[*]' and a cast to double[], which leaves an element that is not a number null; the types then
-- keep only JSON numbers). Casting each list to json[] first and parsing every element alone twice
-- (its type, its value) was about a third of fct_measurements' time (measured).
listed as (
    select
        *,
        json_type(result_json)                                                  as result_type,
        case when json_type(result_json) = 'ARRAY' then json_type(result_json, '$[*]') end as result_types,
        {% for name in ['ci_99_a', 'ci_99_b', 'q_25', 'q_75', 'stats_number', 'stats_repeat'] %}
        json_type({{ name }}_json)                                              as {{ name }}_type,
        case when json_type({{ name }}_json) = 'ARRAY' then json_type({{ name }}_json, '$[*]') end as {{ name }}_types,
        case when json_type({{ name }}_json) = 'ARRAY' then try_cast({{ name }}_json as double[]) end as {{ name }}_cast,
        {% endfor %}
        json_type(samples_json)                                                 as samples_type,
        case when json_type(params_json) = 'ARRAY'
             then coalesce(list_bool_and(list_transform(json_type(params_json, '$[*]'), lambda t: t = 'ARRAY')), true)
        end                                                                    as params_is_grid
    from unioned
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
    -- A whole row of null means the benchmark failed (or did not run) for every combination. An element
    -- that is not a JSON number is null here; its type is in result_types.
    case
        when result_type = 'ARRAY' then list_transform(
            list_zip(try_cast(result_json as double[]), result_types),
            lambda p: case when p[2] in {{ json_number_types() }} then p[1] end
        )
        when result_type in {{ json_number_types() }} then [cast(result_json as double)]
    end                                                       as result_values,
    case
        when result_type = 'ARRAY' then result_types
        when result_type in {{ json_number_types() }} then [result_type]
    end                                                       as result_types,
    case when coalesce(result_type, 'NULL') not in ('ARRAY', 'NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')
         then 'result is a JSON ' || lower(result_type) || ', not a number or a list'
    end                                                       as result_problem,
    -- null (not []) when "params" is there but is not a list of lists: the grid is unknown.
    case
        when coalesce(json_type(params_json), 'NULL') = 'NULL' then []
        when params_is_grid then cast(params_json as varchar[][])
    end                                                       as param_values,
    row_version                                               as benchmark_version,
    try(make_timestamp({{ json_number('started_at_json', 'bigint') }} * 1000)) as started_at,
    {{ json_number('duration_json', 'double') }}              as duration_s,
    {% for name in ['ci_99_a', 'ci_99_b', 'q_25', 'q_75', 'stats_number', 'stats_repeat'] %}
    case when {{ name }}_types is not null then list_transform(
        list_zip({{ name }}_cast, {{ name }}_types),
        lambda p: case when p[2] in {{ json_number_types() }} then p[1] end
    ) end                                                     as {{ name }},
    {% endfor %}
    -- The number of samples of each combination (asv's raw timings; only their count is kept), null
    -- where the element is JSON null (asv kept none).
    case when samples_type = 'ARRAY' then list_transform(
        list_zip(json_array_length(samples_json, '$[*]'), json_type(samples_json, '$[*]')),
        lambda p: case when p[2] <> 'NULL' then p[1] end
    ) end                                                     as n_samples,
    -- What in the row could not be read (left null above), e.g. 'started_at is not a number'.
    nullif(concat_ws('; ',
        case when coalesce(json_type(params_json), 'NULL') <> 'NULL' and not coalesce(params_is_grid, false)
             then 'params is not a list of lists' end,
        case when {{ json_not_number('started_at_json') }} then 'started_at is not a number' end,
        case when try(make_timestamp({{ json_number('started_at_json', 'bigint') }} * 1000)) is null
                  and json_type(started_at_json) in {{ json_number_types() }}
             then 'started_at is out of range' end,
        case when {{ json_not_number('duration_json') }} then 'duration is not a number' end,
        case when stats_not_list then 'stats is not a list' end,
        {% for name in ['ci_99_a', 'ci_99_b', 'q_25', 'q_75', 'stats_number', 'stats_repeat'] %}
        case when coalesce({{ name }}_type, 'NULL') not in ('ARRAY', 'NULL')
                  or coalesce(list_bool_or(list_transform(
                         {{ name }}_types, lambda t: t not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')
                     )), false)
             then '{{ name }} is not a list of numbers' end,
        {% endfor %}
        case when coalesce(samples_type, 'NULL') not in ('ARRAY', 'NULL')
             then 'samples is not a list' end
    ), '')                                                    as row_problem
from listed
