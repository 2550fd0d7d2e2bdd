-- Every repository holding (or said to hold) an asv config, judged once: the project it benchmarks, that
-- project's metadata, and the first reason it is dropped (null: it goes on). Order of the reasons:
-- inaccessible, fork, archived, disabled, no asv config, outside GitHub, asv itself, project inaccessible,
-- re-upload (the same project under another name), below min stars, beyond top N.
with candidates as (
    select repo_key, min(repo_name) as repo_name, list(distinct found_by order by found_by) as found_by
    from {{ ref('stg_github__candidates') }}
    group by repo_key
),

repositories as (
    select * from {{ ref('stg_github__repositories') }}
),

-- A repository is inaccessible while its metadata or its tree answers with a fact (404, 409, 451, ...).
failures as (
    select repo_key, arg_max(fact || ' (HTTP ' || coalesce(http_status::varchar, '?') || ')', recorded_at) as failure
    from {{ ref('stg_github__repo_facts') }}
    where kind in ('repo', 'tree') and fact <> 'ok'
    group by repo_key
),

-- The shallowest config of each repository stands for it.
configs as (
    select *
    from {{ ref('stg_github__asv_configs') }}
    qualify row_number() over (partition by repo_key order by config_depth, config_path) = 1
),

located as (
    select
        c.repo_key,
        coalesce(r.full_name, c.repo_name)                                   as github_repo,
        c.found_by,
        r.repo_key is not null                                               as has_metadata,
        coalesce(r.is_fork, false)                                           as is_fork,
        r.parent_repo,
        coalesce(r.is_archived, false)                                       as is_archived,
        coalesce(r.is_disabled, false)                                       as is_disabled,
        r.stars                                                              as repo_stars,
        r.license_spdx                                                       as repo_license_spdx,
        coalesce(f.failure, tf.failure)                                      as failure,
        cfg.config_path,
        cfg.asv_repo,
        cfg.asv_benchmark_dir
    from candidates as c
    left join repositories as r on r.repo_key = c.repo_key
    left join failures as f on f.repo_key = c.repo_key
    left join failures as tf on tf.repo_key = lower(r.full_name) and tf.repo_key <> c.repo_key
    left join configs as cfg on cfg.repo_key = lower(coalesce(r.full_name, c.repo_name))
    -- a project named only by another repository's config is not a place where asv is configured
    where c.found_by <> ['asv_config']
),

with_project as (
    select
        *,
        case
            when config_path is null then null
            when asv_repo is null or trim(asv_repo) = '' then github_repo
            when regexp_matches(asv_repo, 'github\.com[:/]+[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+')
                then regexp_extract(asv_repo, 'github\.com[:/]+([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/*$', 1)
            when not contains(asv_repo, '://') and not contains(asv_repo, '@') then github_repo  -- a relative path
        end as project,
        regexp_replace(config_path, '/?asv\.conf\.json$', '') as config_folder,
        regexp_replace(regexp_replace(coalesce(asv_benchmark_dir, 'benchmarks'), '^(\./)+', ''), '/+$', '') as bench_dir
    from located
),

judged as (
    select
        w.*,
        p.stars          as project_stars,
        p.default_branch as project_default_branch,
        p.clone_url      as project_clone_url,
        p.full_name      as project_full_name,
        -- The license of what the dataset holds (the project's code and pull requests): the benchmarked
        -- project's own metadata decides, even when GitHub detected no license there (null), because a
        -- separate benchmark repository's license (django/django-asv's) covers its benchmarks, not the
        -- project. The hosting repository's stands in only when the stage has no metadata for the project
        -- (none named, or it is inaccessible); such rows are always dropped, so dim_repositories holds projects' own.
        case when p.repo_key is not null then p.license_spdx else w.repo_license_spdx end as license_spdx,
        case
            when w.failure is not null then 'inaccessible: ' || w.failure
            when not w.has_metadata then 'inaccessible: no metadata'
            when w.is_fork then 'fork of ' || coalesce(w.parent_repo, 'another repository')
            when w.is_archived then 'archived'
            when w.is_disabled then 'disabled'
            when w.config_path is null then 'no asv config'
            when w.project is null then 'benchmarks a project outside GitHub (' || w.asv_repo || ')'
            when lower(w.project) = 'airspeed-velocity/asv' then 'asv itself'
            when pf.failure is not null or p.repo_key is null then 'benchmarked project ' || w.project || ' inaccessible'
            when p.is_fork or p.is_archived or p.is_disabled then 'benchmarked project ' || w.project || ' is a fork, archived or disabled'
        end as early_reason
    from with_project as w
    left join repositories as p on p.repo_key = lower(w.project)
    left join failures as pf on pf.repo_key = lower(w.project)
),

-- One location per benchmarked project: the project's own repository first, then the most starred.
deduplicated as (
    select
        *,
        case when early_reason is null then row_number() over (
            partition by early_reason is null, lower(project)
            order by (lower(project) = lower(github_repo)) desc, repo_stars desc nulls last, lower(github_repo)
        ) end as location_rank
    from judged
),

with_stars as (
    select
        *,
        coalesce(
            early_reason,
            case when location_rank > 1 then 're-upload of ' || project_full_name end,
            case when project_stars < {{ var('github_min_stars', 0) }} then 'below min stars' end
        ) as pre_rank_reason
    from deduplicated
),

ranked as (
    select
        *,
        case when pre_rank_reason is null then row_number() over (
            partition by pre_rank_reason is null order by project_stars desc, lower(project_full_name)
        ) end as stars_rank
    from with_stars
)

select
    github_repo,
    project_full_name                                                          as repo_name,
    project_stars                                                              as stars,
    project_default_branch                                                     as default_branch,
    config_path                                                                as asv_config_path,
    case when config_folder = '' then bench_dir else config_folder || '/' || bench_dir end as benchmark_dir,
    project_clone_url                                                          as clone_url,
    license_spdx,
    stars_rank,
    found_by,
    asv_repo,
    coalesce(
        pre_rank_reason,
        case when stars_rank > {{ var('github_top_n', 350) }} then 'beyond top N' end
    )                                                                          as reason
from ranked
