-- The files each merged commit changed (paths as git prints them, counts null for binary files).
select
    repo_name,
    commit_sha,
    path,
    additions,
    deletions,
    loaded_at
from {{ source('github', 'github_commit_files') }}
qualify row_number() over (partition by repo_name, commit_sha, path order by loaded_at desc) = 1
