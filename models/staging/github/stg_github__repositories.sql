-- Each repository's latest metadata answer, typed (one row per repository as asked, case-insensitive).
with latest as (
    select repo_name, url, fetched_at, content
    from {{ source('github', 'github_discovery_responses') }}
    where kind = 'repo'
    qualify row_number() over (partition by lower(repo_name) order by fetched_at desc, sha256) = 1
),

parsed as (
    select
        repo_name,
        url,
        fetched_at,
        json_transform(content, '{
            "full_name": "VARCHAR", "fork": "BOOLEAN", "archived": "BOOLEAN", "disabled": "BOOLEAN",
            "stargazers_count": "BIGINT", "default_branch": "VARCHAR", "pushed_at": "VARCHAR",
            "clone_url": "VARCHAR", "parent": {"full_name": "VARCHAR"}, "license": {"spdx_id": "VARCHAR"}
        }') as repo
    from latest
)

select
    lower(repo_name)                        as repo_key,
    repo_name                               as asked_name,
    coalesce(repo.full_name, repo_name)     as full_name,
    coalesce(repo.fork, false)              as is_fork,
    repo.parent.full_name                   as parent_repo,
    coalesce(repo.archived, false)          as is_archived,
    coalesce(repo.disabled, false)          as is_disabled,
    repo.stargazers_count                   as stars,
    repo.default_branch                     as default_branch,
    try_cast(repo.pushed_at as timestamp)   as pushed_at,
    repo.clone_url                          as clone_url,
    -- GitHub's license detection: 'NOASSERTION' when it found a license it does not recognise (kept as
    -- is), null when it found none (the JSON null, or no `license` key in older answers)
    repo.license.spdx_id                    as license_spdx,
    url                                     as metadata_url,
    fetched_at                              as metadata_fetched_at
from parsed
