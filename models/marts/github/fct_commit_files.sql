-- The files each merged commit changed, each judged core code or not. Not core: a path segment, or the
-- file name, matching a pattern of the core_path_exclusions seed, or a path inside the project's own asv
-- benchmark directory (when the asv config lives in the project's repository).
with files as (
    select
        f.repo_name,
        f.commit_sha,
        f.path,
        f.additions,
        f.deletions,
        case when lower(v.github_repo) = lower(v.repo_name) then lower(v.benchmark_dir) end as own_benchmark_dir
    from {{ ref('stg_github__commit_files') }} as f
    left join {{ ref('dim_repositories') }} as v on lower(v.repo_name) = lower(f.repo_name)
),

patterns as (
    select lower(applies_to) as applies_to, lower(pattern) as pattern from {{ ref('core_path_exclusions') }}
),

segments as (
    select repo_name, commit_sha, path, unnest(string_split(lower(path), '/')) as segment from files
),

hits as (
    select s.repo_name, s.commit_sha, s.path, 'segment ' || p.pattern as excluded_by
    from segments as s
    join patterns as p on p.applies_to = 'segment' and s.segment glob p.pattern
    union all
    select f.repo_name, f.commit_sha, f.path, 'filename ' || p.pattern
    from files as f
    join patterns as p on p.applies_to = 'filename' and string_split(lower(f.path), '/')[-1] glob p.pattern
    union all
    select repo_name, commit_sha, path, 'benchmark_dir ' || own_benchmark_dir
    from files
    where own_benchmark_dir is not null and own_benchmark_dir <> ''
      and (lower(path) = own_benchmark_dir or starts_with(lower(path), own_benchmark_dir || '/'))
),

first_hits as (
    select repo_name, commit_sha, path, min(excluded_by) as excluded_by from hits group by all
)

select
    f.repo_name,
    f.commit_sha,
    f.path,
    f.additions,
    f.deletions,
    h.excluded_by is null as is_core,
    h.excluded_by
from files as f
left join first_hits as h on h.repo_name = f.repo_name and h.commit_sha = f.commit_sha and h.path = f.path
