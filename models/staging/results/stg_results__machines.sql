-- The current machine.json of every machine folder. `ram` is kept as written: asv stores it as
-- KB, bytes, '16GB' or an integer depending on the version.
with latest as (
    select *
    from {{ source('results', 'asv_machine_files') }}
    qualify row_number() over (partition by source_name, relative_path order by loaded_at desc, sha256) = 1
)

select
    source_name,
    tree_path,
    machine_dir                    as machine,
    relative_path                  as file_path,
    loaded_at                      as file_loaded_at,
    content ->> '$.machine'        as machine_name_in_file,
    content ->> '$.arch'           as arch,
    content ->> '$.cpu'            as cpu,
    content ->> '$.num_cpu'        as num_cpu,
    content ->> '$.os'             as os,
    content ->> '$.ram'            as ram
from latest
