-- The current entry of every source in the sources file.
select
    source_name,
    source_kind,
    location,
    repo,
    registered_at
from {{ source('sources', 'source_registry') }}
qualify row_number() over (partition by source_name order by registered_at desc) = 1
