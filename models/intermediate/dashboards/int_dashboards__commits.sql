-- Each dashboard's x values (revisions, or commit dates on asv 0.1 sites) mapped to commits,
-- unnested once so that series points join to it instead of looking into a map per point.
with indexes as (
    select * from {{ ref('stg_dashboards__indexes') }}
),

by_revision as (
    select
        source_name,
        unnest(map_keys(doc.revision_to_hash))   as x_key,
        unnest(map_values(doc.revision_to_hash)) as commit_hash
    from indexes
),

dates as (
    select
        source_name,
        unnest(map_keys(doc.revision_to_date))   as x_key,
        unnest(map_values(doc.revision_to_date)) as date_ms
    from indexes
),

by_date as (
    select
        source_name,
        unnest(map_keys(doc.date_to_hash))   as x_key,
        unnest(map_values(doc.date_to_hash)) as commit_hash
    from indexes
    where doc.revision_to_hash is null
)

select
    by_revision.source_name,
    by_revision.x_key,
    cast(by_revision.x_key as bigint)               as revision,
    by_revision.commit_hash,
    make_timestamp(dates.date_ms * 1000)            as commit_date
from by_revision
left join dates using (source_name, x_key)
union all
select
    source_name,
    x_key,
    cast(null as bigint)                            as revision,
    commit_hash,
    make_timestamp(cast(x_key as bigint) * 1000)    as commit_date
from by_date
