-- Each commit whose changed files were looked for: the latest reading (a commit found later replaces 'missing').
select
    repo_name,
    commit_sha,
    parent_sha,
    method,
    source,
    n_files,
    error,
    loaded_at
from {{ source('github', 'github_commit_diffs') }}
qualify row_number() over (
    partition by repo_name, commit_sha order by (method = 'missing'), loaded_at desc
) = 1
