-- The pull requests merged into their project's default branch. Merged means merged_at is set: GitHub
-- also fills merge_commit_sha for pull requests closed without merging.
select
    p.repo_name,
    p.pr_number,
    p.title,
    p.body,
    p.labels,
    p.author_login,
    p.merged_at,
    p.merge_commit_sha,
    p.base_sha,
    p.base_ref,
    p.head_sha,
    p.html_url
from {{ ref('stg_github__pull_requests') }} as p
join {{ ref('dim_repositories') }} as v on lower(v.repo_name) = lower(p.repo_name)
where p.merged_at is not null and p.base_ref = v.default_branch
