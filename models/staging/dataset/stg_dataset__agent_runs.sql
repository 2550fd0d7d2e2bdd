-- The current version of each agent_results entry.
select
    agent_name,
    location,
    task_id,
    repo,
    lower(base_commit)  as base_commit,
    lower(agent_commit) as agent_commit,
    registered_at
from {{ source('dataset_agent_results', 'agent_runs') }}
qualify row_number() over (partition by agent_name order by registered_at desc) = 1
