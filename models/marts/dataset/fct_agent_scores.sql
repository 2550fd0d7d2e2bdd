-- FormulaCode's advantage of each agent run over the human, aggregated at the parameter, function,
-- class and module levels and overall. For each level, the workloads are grouped (one workload; one
-- benchmark; one class; one module; all), each group scores
-- (gmean(s_agent) - gmean(s_human)) / sqrt(2), and the level's advantage is the mean over its groups.
-- Workloads without a base time (status 'no_base') are left out.
with workloads as (
    select * from {{ ref('fct_agent_workloads') }}
    where s_agent is not null and s_agent > 0 and s_human > 0
),

by_level as (
    select agent_name, task_id, 'parameter' as level, 1 as level_order,
           benchmark || ' [' || params || '] @' || coalesce(machine, '') as group_key, s_agent, s_human
    from workloads
    union all
    select agent_name, task_id, 'function', 2, function_name, s_agent, s_human from workloads
    union all
    select agent_name, task_id, 'class', 3, class_name, s_agent, s_human from workloads
    union all
    select agent_name, task_id, 'module', 4, module_name, s_agent, s_human from workloads
    union all
    select agent_name, task_id, 'overall', 5, 'all', s_agent, s_human from workloads
),

groups as (
    select
        agent_name,
        task_id,
        level,
        level_order,
        group_key,
        exp(avg(ln(s_agent))) as gmean_s_agent,
        exp(avg(ln(s_human))) as gmean_s_human,
        count(*)              as n_workloads
    from by_level
    group by all
)

select
    agent_name,
    task_id,
    level,
    level_order,
    count(*)                                                  as n_groups,
    sum(n_workloads)                                          as n_workloads,
    avg((gmean_s_agent - gmean_s_human) / sqrt(2))            as advantage,
    exp(avg(ln(gmean_s_agent)))                               as gmean_s_agent,
    exp(avg(ln(gmean_s_human)))                               as gmean_s_human
from groups
group by agent_name, task_id, level, level_order
