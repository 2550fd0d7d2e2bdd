-- The current asv.conf.json of each results source.
with latest as (
    select *
    from {{ source('results', 'asv_config_files') }}
    qualify row_number() over (partition by source_name, relative_path order by loaded_at desc, sha256) = 1
)

select
    source_name,
    relative_path                          as file_path,
    loaded_at                              as file_loaded_at,
    content ->> '$.project'                as project,
    content ->> '$.project_url'            as project_url,
    content ->> '$.repo'                   as repo_url,
    content ->> '$.show_commit_url'        as show_commit_url,
    content ->> '$.environment_type'       as environment_type,
    coalesce(content ->> '$.results_dir', 'results') as results_dir
from latest
