-- One row per task (repository x improving commit) x improved workload (machine x benchmark x
-- params). A workload found by several sources (raw results and the dashboard published from them)
-- or several methods is one workload: the strongest evidence wins (fct_improvement_evidence:
-- replicated, then 99% CIs apart, then the segment test), then the larger speed-up, then our own runs
-- over a dashboard and rbf over asv, so the before/after values are those of one measured series. A task is a commit of a repository, so an
-- improvement whose repository is unknown (a dashboard without `repo:` whose index.json names no
-- GitHub project) is no task: it stays in fct_measurements and fct_performance_improvements.
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
with improvements as (
    select * from {{ ref('fct_improvement_evidence') }}
    where repo is not null
)

select
    repo,
    commit_after                         as commit_hash,
    commit_before,
    commit_date_after                    as commit_date,
    machine,
    env_name,
    benchmark,
    params,
    unit,
    benchmark_type,
    value_before                         as before,
    value_after                          as after,
    speedup,
    significance,
    method,
    source_name,
    source_kind,
    series_id,
    change_point_id,
    evidence
from improvements
qualify row_number() over (
    partition by repo, commit_after, machine, benchmark, params
    order by evidence_rank desc, speedup desc, source_kind = 'results' desc, method = 'rbf' desc, change_point_id
) = 1
