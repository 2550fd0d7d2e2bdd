-- One row per task: a repository x performance-improving commit, with the workloads it sped up as a
-- nested list (FormulaCode's tasks). Pull-request fields are added by the commit_reports asset (see
-- fct_commit_reports) because the GitHub marts are optional.
with workloads as (
    select * from {{ ref('fct_task_workloads') }}
),

tasks as (
    select
        repo,
        commit_hash,
        any_value(commit_before order by source_kind = 'results' desc) as commit_before,
        min(commit_date)                                               as commit_date,
        list({
            'benchmark': benchmark, 'params': params, 'machine': machine, 'env_name': env_name,
            'unit': unit, 'before': before, 'after': after, 'speedup': speedup,
            'significance': significance, 'method': method, 'source_kind': source_kind,
            'series_id': series_id, 'evidence': evidence
        } order by speedup desc, benchmark, params, machine)           as workloads,
        count(*)                                                       as n_workloads,
        median(speedup)                                                as median_speedup,
        max(speedup)                                                   as max_speedup,
        list(distinct source_name order by source_name)                as source_names,
        -- 'results' when any workload comes from our own asv runs, else 'dashboard'.
        case when bool_or(source_kind = 'results') then 'results' else 'dashboard' end as source,
        arg_max(series_id, speedup)                                    as top_series_id,
        arg_max(benchmark, speedup)                                    as top_benchmark,
        -- The strongest evidence among its workloads (docs/detection.md, tasks from the best evidence).
        case max(case evidence when 'replicated' then 3 when 'ci_separated' then 2 else 1 end)
            when 3 then 'replicated' when 2 then 'ci_separated' else 'segments'
        end                                                            as confidence
    from workloads
    group by repo, commit_hash
)

select
    replace(repo, '/', '_') || '_' || left(commit_hash, 8) as commit_task_id,
    split_part(repo, '/', 1)                               as repo_owner,
    split_part(repo, '/', 2)                               as repo_short_name,
    *
from tasks
