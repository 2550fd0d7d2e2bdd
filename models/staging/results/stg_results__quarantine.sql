-- Results files that could not be loaded, and why (the bytes stay in the raw table).
select
    source_name,
    relative_path as file_path,
    sha256        as file_sha256,
    size_bytes    as file_size_bytes,
    loaded_at,
    reason
from {{ source('results', 'results_quarantine') }}
