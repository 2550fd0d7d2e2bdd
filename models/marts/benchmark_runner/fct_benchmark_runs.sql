-- The latest attempt per repository x machine x environment x asv arguments x commit: what the runner
-- currently knows about each commit it was asked to measure.
with runs as (
    select * from {{ ref('stg_benchmark_runner__benchmark_runs') }}
)

select
    source_name,
    repo,
    machine,
    env_name,
    asv_args_hash,
    commit_hash,
    status,
    run_id                                                            as latest_run_id,
    count(*) over (partition by source_name, env_name, asv_args_hash, commit_hash) as attempts,
    started_at,
    finished_at,
    env_build_seconds,
    benchmark_seconds,
    log_path,
    message,
    sampling_settings,
    sampling_noise
from runs
qualify row_number() over (
    partition by source_name, env_name, asv_args_hash, commit_hash
    order by started_at desc, run_id desc
) = 1
