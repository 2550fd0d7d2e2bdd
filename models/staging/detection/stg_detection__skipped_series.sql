select
    series_id,
    method,
    reason,
    detected_at
from {{ source('detection', 'skipped_series') }}
