-- asv's own step detection as published in regressions.json, one row per regression range, in both
-- layouts: asv >= 0.4 [name, graph, config, idx, last, best, [[rev_before, rev_after, before, after], ...]]
-- and 2017 [pretty name, graph, config, idx, [[[rev_before, rev_after, before, after], ...], last, best]].
with files as (
    select * from {{ ref('stg_dashboards__files') }} where kind = 'regressions'
),

entries as (
    select
        source_name,
        file_loaded_at,
        unnest(cast(content -> '$.regressions' as json[])) as entry
    from files
),

shaped as (
    select
        source_name,
        file_loaded_at,
        entry ->> '$[0]'                                       as benchmark,
        entry ->> '$[1]'                                       as graph_path,
        entry -> '$[2]'                                        as config,
        cast(entry ->> '$[3]' as integer)                      as param_index,
        json_array_length(entry) = 5                           as legacy_layout,
        case when json_array_length(entry) = 5 then entry -> '$[4][0]' else entry -> '$[6]' end as ranges
    from entries
)

select
    source_name,
    file_loaded_at,
    benchmark,
    graph_path,
    config,
    param_index,
    legacy_layout,
    cast(range_entry ->> '$[0]' as bigint) as revision_before,
    cast(range_entry ->> '$[1]' as bigint) as revision_after,
    cast(range_entry ->> '$[2]' as double) as value_before,
    cast(range_entry ->> '$[3]' as double) as value_after
from (select *, unnest(cast(ranges as json[])) as range_entry from shaped)
