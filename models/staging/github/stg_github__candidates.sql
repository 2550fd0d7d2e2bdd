-- Every repository discovery looked at, once per way it was found.
select
    lower(repo_name)    as repo_key,
    repo_name,
    found_by,
    found_path,
    discovered_at
from {{ source('github', 'github_candidates') }}
