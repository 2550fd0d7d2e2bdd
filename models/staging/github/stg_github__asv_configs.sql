-- The latest version of every asv.conf.json found (at most two folders deep), with the fields the stage uses.
with latest as (
    select repo_name, path, url, sha256, fetched_at, content
    from {{ source('github', 'github_discovery_responses') }}
    where kind = 'asv_config'
    qualify row_number() over (partition by lower(repo_name), path order by fetched_at desc, sha256) = 1
)

select
    lower(repo_name)                                                      as repo_key,
    repo_name                                                             as github_repo,
    path                                                                  as config_path,
    len(string_split(path, '/')) - 1                                      as config_depth,
    json_extract_string(content, '$.repo')                                as asv_repo,
    json_extract_string(content, '$.benchmark_dir')                       as asv_benchmark_dir,
    url                                                                   as config_url,
    sha256                                                                as config_sha256,
    fetched_at                                                            as config_fetched_at,
    content
from latest
