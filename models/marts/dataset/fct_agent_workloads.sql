-- Per agent run x improved workload of its task: the optimizer's speed-up against the base and the
-- human's, and FormulaCode's advantage.
--   s_agent   = base time / agent time, both from the agent's folder (one run, one machine); the base
--               time falls back to the warehouse's own measurements of the base commit on that machine.
--   s_human   = the task's speed-up for the workload (fct_tasks, preferring the agent's machine).
--   advantage = (s_agent - s_human) / sqrt(2): the signed distance of (s_human, s_agent) from the
--               line s_agent = s_human, so 0 means "as fast as the human".
-- Threshold (var score_threshold, default 1): the speed-up of doing nothing. A workload the agent's
-- code failed or skipped counts as s_agent = threshold (FormulaCode's revert-to-baseline rule).
{% set threshold = var('score_threshold', 1.0) %}
with runs as (
    select * from {{ ref('fct_agent_runs') }}
),

measurements as (
    select * from {{ ref('fct_agent_measurements') }}
),

task_workloads as (
    select
        tasks.commit_task_id,
        w.benchmark,
        w.params,
        w.machine,
        w.speedup  as s_human,
        w.unit
    from {{ ref('fct_tasks') }} as tasks, unnest(tasks.workloads) as u(w)
),

agent_side as (
    select
        agent_name,
        machine,
        benchmark,
        params,
        median(value) filter (where role = 'agent')       as agent_time,
        median(value) filter (where role = 'base')        as folder_base_time,
        count(*) filter (where role = 'agent')            as n_agent_files,
        bool_or(role = 'agent' and status <> 'ok')        as agent_not_ok
    from measurements
    group by all
),

warehouse_base as (
    select machine, benchmark, params, commit_hash, median(value) as base_time
    from {{ ref('fct_measurements') }}
    where status = 'ok'
    group by all
),

joined as (
    select
        runs.agent_name,
        runs.task_id,
        runs.commit_task_id,
        runs.repo,
        runs.base_commit,
        agent_side.machine,
        task_workloads.benchmark,
        task_workloads.params,
        task_workloads.unit,
        task_workloads.machine                              as human_machine,
        task_workloads.s_human,
        coalesce(agent_side.folder_base_time, warehouse_base.base_time) as base_time,
        case when agent_side.folder_base_time is not null then 'agent_folder'
             when warehouse_base.base_time is not null then 'warehouse' end as base_time_from,
        agent_side.agent_time,
        agent_side.n_agent_files,
        agent_side.agent_not_ok
    from runs
    inner join task_workloads on task_workloads.commit_task_id = runs.commit_task_id
    left join agent_side
        on agent_side.agent_name = runs.agent_name
        and agent_side.benchmark = task_workloads.benchmark
        and agent_side.params = task_workloads.params
    left join warehouse_base
        on warehouse_base.commit_hash = runs.base_commit
        and warehouse_base.machine = agent_side.machine
        and warehouse_base.benchmark = task_workloads.benchmark
        and warehouse_base.params = task_workloads.params
    -- one row per workload: the human's speed-up measured on the agent's machine when there is one
    qualify row_number() over (
        partition by runs.agent_name, task_workloads.benchmark, task_workloads.params
        order by task_workloads.machine = agent_side.machine desc nulls last, task_workloads.machine
    ) = 1
),

scored as (
    select
        *,
        case
            when agent_time is null and base_time is not null then 'agent_failed'
            when base_time is null then 'no_base'
            else 'ok'
        end as status,
        case
            when base_time is null then null
            when agent_time is null then {{ threshold }}
            else base_time / agent_time
        end as s_agent
    from joined
)

select
    agent_name,
    task_id,
    repo,
    base_commit,
    machine,
    human_machine,
    benchmark,
    params,
    -- The levels FormulaCode aggregates at: module, class (module.Class, or the function itself when
    -- it is not in a class), function (the benchmark), parameter (one workload).
    case
        when regexp_matches(split_part(benchmark, '.', -2), '^[A-Z]')
            then array_to_string(string_split(benchmark, '.')[:-3], '.')
        else array_to_string(string_split(benchmark, '.')[:-2], '.')
    end                                                             as module_name,
    case
        when regexp_matches(split_part(benchmark, '.', -2), '^[A-Z]')
            then array_to_string(string_split(benchmark, '.')[:-2], '.')
        else benchmark
    end                                                             as class_name,
    benchmark                                                       as function_name,
    unit,
    base_time,
    base_time_from,
    agent_time,
    s_agent,
    s_human,
    (s_agent - s_human) / sqrt(2)                                   as advantage,
    s_agent > s_human                                               as beats_human,
    status,
    {{ threshold }}                                                 as threshold
from scored
