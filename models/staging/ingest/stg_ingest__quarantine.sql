select
    source_name,
    source_kind,
    location,
    sha256,
    size_bytes,
    loaded_at,
    reason
from {{ source('ingest', 'quarantine') }}
