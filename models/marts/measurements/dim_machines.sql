-- One row per source x machine that has measurements, with its machine.json where there is one.
with measured as (
    select
        source_name,
        machine,
        count(*)                    as n_measurements,
        count(distinct commit_hash) as n_commits,
        list(distinct env_name order by env_name) as env_names
    from {{ ref('fct_measurements') }}
    group by source_name, machine
),

described as (
    select * from {{ ref('stg_results__machines') }}
    qualify row_number() over (partition by source_name, machine order by file_loaded_at desc, tree_path) = 1
)

select
    measured.source_name,
    measured.machine,
    described.arch,
    described.cpu,
    described.num_cpu,
    described.os,
    described.ram,
    described.machine is not null as has_machine_json,
    measured.env_names,
    measured.n_measurements,
    measured.n_commits
from measured
left join described
    on described.source_name = measured.source_name
    and described.machine = measured.machine
