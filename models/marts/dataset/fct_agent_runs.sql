-- Each agent_results entry resolved to its task: by task_id (the export's id or fct_tasks'
-- commit_task_id), else by repository and base commit (a prefix of the task's base commit). The base
-- commit is the task's: the pull request's base when known, else the last measured commit before.
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
with runs as (
    select * from {{ ref('stg_dataset__agent_runs') }}
),

tasks as (
    select
        tasks.commit_task_id,
        coalesce(reports.task_id, tasks.commit_task_id)         as task_id,
        tasks.repo,
        tasks.commit_hash,
        coalesce(reports.pr_base_sha, tasks.commit_before)      as base_commit
    from {{ ref('fct_tasks') }} as tasks
    left join {{ ref('fct_commit_reports') }} as reports
        on reports.commit_task_id = tasks.commit_task_id
)

select
    runs.agent_name,
    runs.location,
    runs.agent_commit,
    tasks.task_id,
    tasks.commit_task_id,
    coalesce(tasks.repo, runs.repo)                 as repo,
    coalesce(tasks.base_commit, runs.base_commit)   as base_commit,
    tasks.commit_hash                               as human_commit,
    tasks.commit_task_id is not null                as task_found
from runs
left join tasks
    on runs.task_id in (tasks.task_id, tasks.commit_task_id)
    or (runs.task_id is null and runs.repo = tasks.repo and starts_with(tasks.base_commit, runs.base_commit))
qualify row_number() over (partition by runs.agent_name order by tasks.commit_task_id) = 1
