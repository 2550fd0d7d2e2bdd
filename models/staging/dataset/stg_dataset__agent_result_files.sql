-- The current version of every agent result file (asv schema 2, checked at load), top-level fields typed.
with latest as (
    select *
    from {{ source('dataset_agent_results', 'agent_result_files') }}
    where file_kind = 'result'
    qualify row_number() over (partition by agent_name, relative_path order by loaded_at desc, sha256) = 1
),

parsed as (
    select
        * exclude (content),
        json_transform(content, '{
            "commit_hash": "VARCHAR", "env_name": "VARCHAR", "date": "BIGINT",
            "result_columns": "VARCHAR[]", "results": "MAP(VARCHAR, JSON)"
        }') as doc
    from latest
)

select
    agent_name,
    relative_path                   as file_path,
    machine_dir                     as machine,
    sha256                          as file_sha256,
    loaded_at                       as file_loaded_at,
    lower(doc.commit_hash)          as commit_hash,
    doc.env_name                    as env_name,
    doc.result_columns              as result_columns,
    doc.results                     as results
from parsed
