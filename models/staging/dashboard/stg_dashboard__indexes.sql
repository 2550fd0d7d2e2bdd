-- The current index.json of each dashboard: how revisions map to commits and dates, parsed once.
-- Legacy (asv 0.1) sites key points by commit date instead: `date_to_hash`.
with indexes as (
    select * from {{ ref('stg_dashboard__files') }} where kind = 'index'
)

select
    source_name,
    file_path,
    file_loaded_at,
    json_transform(content, '{
        "project": "VARCHAR", "project_url": "VARCHAR", "show_commit_url": "VARCHAR",
        "revision_to_hash": "MAP(VARCHAR, VARCHAR)", "revision_to_date": "MAP(VARCHAR, BIGINT)",
        "date_to_hash": "MAP(VARCHAR, VARCHAR)"
    }') as doc,
    content -> '$.benchmarks' as benchmarks
from indexes
