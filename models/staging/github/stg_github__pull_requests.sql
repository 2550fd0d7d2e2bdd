-- Every closed pull request listed, from the latest body of each page; the newest listing per number wins.
with pages as (
    select repo_name, url, fetched_at, content
    from {{ source('github', 'github_pull_pages') }}
    qualify row_number() over (partition by url order by fetched_at desc, sha256) = 1
),

items as (
    select
        repo_name,
        url as page_url,
        fetched_at,
        unnest(json_transform(content, '[{
            "number": "BIGINT", "title": "VARCHAR", "body": "VARCHAR", "state": "VARCHAR",
            "labels": [{"name": "VARCHAR"}], "user": {"login": "VARCHAR"}, "created_at": "VARCHAR",
            "closed_at": "VARCHAR", "merged_at": "VARCHAR", "merge_commit_sha": "VARCHAR",
            "base": {"ref": "VARCHAR", "sha": "VARCHAR"}, "head": {"sha": "VARCHAR"}, "html_url": "VARCHAR"
        }]')) as pr
    from pages
)

select
    repo_name,
    pr.number                                                   as pr_number,
    pr.title                                                    as title,
    pr.body                                                     as body,
    pr.state                                                    as state,
    coalesce(list_transform(pr.labels, lambda l: l.name), [])   as labels,
    pr.user.login                                               as author_login,
    try_cast(pr.created_at as timestamp)                        as created_at,
    try_cast(pr.closed_at as timestamp)                         as closed_at,
    try_cast(pr.merged_at as timestamp)                         as merged_at,
    pr.merge_commit_sha                                         as merge_commit_sha,
    pr.base.ref                                                 as base_ref,
    pr.base.sha                                                 as base_sha,
    pr.head.sha                                                 as head_sha,
    pr.html_url                                                 as html_url,
    page_url,
    fetched_at
from items
qualify row_number() over (partition by repo_name, pr.number order by fetched_at desc) = 1
