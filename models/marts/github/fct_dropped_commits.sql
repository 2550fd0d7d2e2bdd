-- The merge commits of kept pull requests that do not go on, with the reason.
select repo_name, commit_sha, pr_number, merged_at, parent_sha, n_files, n_core_files, reason
from {{ ref('fct_merged_commits') }}
where reason is not null
