-- Every merge commit of a kept pull request, with its changed-file counts and why it would be dropped
-- (null: it changes core code).
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
with pulls as (
    select repo_name, merge_commit_sha as commit_sha, min(pr_number) as pr_number, min(merged_at) as merged_at
    from {{ ref('dim_pull_requests') }}
    where merge_commit_sha is not null
    group by all
),

counts as (
    select repo_name, commit_sha, count(*) as n_files, count(*) filter (where is_core) as n_core_files
    from {{ ref('fct_commit_files') }}
    group by all
)

select
    p.repo_name,
    p.commit_sha,
    p.pr_number,
    p.merged_at,
    d.parent_sha,
    coalesce(c.n_files, 0)      as n_files,
    coalesce(c.n_core_files, 0) as n_core_files,
    case
        when d.commit_sha is null then 'changed files not read yet'
        when d.method = 'missing' then 'commit not found: ' || coalesce(d.error, 'unknown')
        when coalesce(c.n_files, 0) = 0 then 'changes no files'
        when c.n_core_files = 0 then 'no core files changed'
    end as reason
from pulls as p
left join {{ ref('stg_github__commit_diffs') }} as d on d.repo_name = p.repo_name and d.commit_sha = p.commit_sha
left join counts as c on c.repo_name = p.repo_name and c.commit_sha = p.commit_sha
