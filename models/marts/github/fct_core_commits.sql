-- The merge commits of kept pull requests that change at least one core file.
select repo_name, commit_sha, pr_number, merged_at, parent_sha, n_files, n_core_files
from {{ ref('fct_merged_commits') }}
where reason is null
