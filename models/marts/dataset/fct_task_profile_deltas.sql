-- Where each task's time went: for every improved benchmark of a task with a profile at the commit
-- before and at the commit (fct_profiles, one pair per task x benchmark: the profiling pass's before a
-- results source's, then the newest; both from the same source, machine and environment), the 25
-- functions whose cumulative time changed most, with their share of the profiled call's time.
-- Functions are matched by function_path and name (a function moved within its file keeps matching;
-- the lowest line is shown). asv's own harness (asv_runner's frames, exec, the `<string>` module, the
-- profiler's disable) is left out: it wraps the whole call and so changes by the whole difference.
with task_benchmarks as (
    select commit_task_id, repo, commit_hash, commit_before, w.benchmark, max(w.speedup) as speedup
    from (select *, unnest(workloads) as w from {{ ref('fct_tasks') }})
    group by all
),

profiles as (
    select
        profile_id, origin, source_name, repo, machine, env_name, commit_hash, benchmark,
        max(loaded_at)              as loaded_at,
        any_value(profile_total_time) as profile_total_time
    from {{ ref('fct_profiles') }}
    group by all
),

pairs as (
    select
        t.commit_task_id, t.repo, t.commit_hash, t.commit_before, t.benchmark, t.speedup,
        a.origin, a.source_name, a.machine, a.env_name,
        b.profile_id         as profile_before,
        a.profile_id         as profile_after,
        b.profile_total_time as profile_total_before,
        a.profile_total_time as profile_total_after
    from task_benchmarks as t
    join profiles as b
        on lower(b.repo) = lower(t.repo) and b.commit_hash = t.commit_before and b.benchmark = t.benchmark
    join profiles as a
        on lower(a.repo) = lower(t.repo) and a.commit_hash = t.commit_hash and a.benchmark = t.benchmark
        and a.origin = b.origin and a.source_name = b.source_name and a.machine = b.machine
        and a.env_name is not distinct from b.env_name
    qualify row_number() over (
        partition by t.commit_task_id, t.benchmark
        order by a.origin = 'profile_run' desc, greatest(a.loaded_at, b.loaded_at) desc,
                 a.source_name, a.machine, a.env_name, a.profile_id, b.profile_id
    ) = 1
),

functions as (
    select
        profile_id, function_path, function_name,
        min(function_line)   as function_line,
        sum(primitive_calls) as primitive_calls,
        sum(total_calls)     as total_calls,
        sum(total_time)      as total_time,
        sum(cumulative_time) as cumulative_time
    from {{ ref('fct_profiles') }}
    where profile_id in (select profile_before from pairs union select profile_after from pairs)
      and function_path not like '%asv_runner/%'
      and function_path <> '<string>'
      and not (function_path = '~' and function_name in (
          '<built-in method builtins.exec>', '<method ''disable'' of ''_lsprof.Profiler'' objects>'
      ))
    group by all
),

keys as (
    select distinct p.commit_task_id, p.benchmark, f.function_path, f.function_name
    from pairs as p
    join functions as f on f.profile_id in (p.profile_before, p.profile_after)
),

deltas as (
    select
        p.commit_task_id,
        p.repo,
        p.commit_hash,
        p.commit_before,
        p.benchmark,
        p.speedup,
        p.origin,
        p.source_name,
        p.machine,
        p.env_name,
        k.function_path,
        k.function_name,
        coalesce(a.function_line, b.function_line) as function_line,
        case when k.function_path = '~' then k.function_name
             else k.function_path || ':' || coalesce(a.function_line, b.function_line)
                  || '(' || k.function_name || ')' end as function_label,
        coalesce(b.total_calls, 0)                 as calls_before,
        coalesce(a.total_calls, 0)                 as calls_after,
        coalesce(b.total_time, 0)                  as self_before,
        coalesce(a.total_time, 0)                  as self_after,
        coalesce(b.cumulative_time, 0)             as cumulative_before,
        coalesce(a.cumulative_time, 0)             as cumulative_after,
        coalesce(a.cumulative_time, 0) - coalesce(b.cumulative_time, 0) as cumulative_change,
        coalesce(b.cumulative_time, 0) / nullif(p.profile_total_before, 0) as share_before,
        coalesce(a.cumulative_time, 0) / nullif(p.profile_total_after, 0)  as share_after,
        p.profile_total_before,
        p.profile_total_after
    from pairs as p
    join keys as k on k.commit_task_id = p.commit_task_id and k.benchmark = p.benchmark
    left join functions as b
        on b.profile_id = p.profile_before and b.function_path = k.function_path
        and b.function_name = k.function_name
    left join functions as a
        on a.profile_id = p.profile_after and a.function_path = k.function_path
        and a.function_name = k.function_name
)

select
    *,
    row_number() over (
        partition by commit_task_id, benchmark
        order by abs(cumulative_change) desc, function_path, function_name
    ) as change_rank
from deltas
qualify change_rank <= 25
