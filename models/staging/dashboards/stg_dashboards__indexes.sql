-- The current index.json of each dashboard: how revisions map to commits and dates, parsed once.
-- Legacy (asv 0.1) sites key points by commit date instead: `date_to_hash`.
with indexes as (
    select * from {{ ref('stg_dashboards__files') }} where kind = 'index'
),

parsed as (
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
)

select
    *,
    -- The GitHub project the site names, owner/name: its commit links (asv's show_commit_url,
    -- https://github.com/<owner>/<name>/commit/) first, then its project_url; null when neither does.
    coalesce(
        nullif(regexp_extract(
            doc.show_commit_url,
            '^(?:https?://)?(?:www\.)?(?i:github\.com)/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?(?:/commit)?/*$', 1
        ), ''),
        nullif(regexp_extract(
            doc.project_url,
            '^(?:https?://)?(?:www\.)?(?i:github\.com)/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/*$', 1
        ), '')
    ) as site_repo
from parsed
