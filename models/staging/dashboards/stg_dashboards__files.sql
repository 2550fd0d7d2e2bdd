-- The current version of every dashboard file (the latest fetched per source and path).
select
    source_name,
    relative_path  as file_path,
    url,
    kind,
    config_path,
    config,
    machine,
    env_name,
    benchmark,
    sha256         as file_sha256,
    size_bytes     as file_size_bytes,
    fetched_at     as file_loaded_at,
    content
from {{ source('dashboards', 'dashboard_files') }}
qualify row_number() over (partition by source_name, relative_path order by fetched_at desc, sha256) = 1
