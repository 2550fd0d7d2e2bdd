-- The current outcome of every URL that ever answered with a fact about its repository.
select
    lower(repo_name)    as repo_key,
    repo_name,
    kind,
    url,
    http_status,
    fact,
    message,
    recorded_at
from {{ source('github', 'github_repo_facts') }}
qualify row_number() over (partition by url order by recorded_at desc) = 1
