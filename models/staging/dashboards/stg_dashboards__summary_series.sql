-- The geometric-mean summary series of each benchmark (graphs/summary/<benchmark>.json). asv
-- resamples these to at most ~384 points over all configurations, so they are kept apart from the
-- measurements and flagged: never a substitute for the per-configuration series.
with files as (
    select * from {{ ref('stg_dashboards__files') }} where kind = 'summary_series'
)

select
    source_name,
    file_path,
    file_loaded_at,
    benchmark,
    cast(cast(point -> '$[0]' as double) as bigint) as revision,
    cast(point -> '$[1]' as double)                 as value,
    true                                            as is_resampled
from (select *, unnest(cast(content as json[])) as point from files)
