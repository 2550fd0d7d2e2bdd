-- The pairs of measurement sets (source x machine) to compare. From the dbt var
-- `replication_pairs` when given (a list of {a_source, a_machine, b_source, b_machine}), else every
-- pair of sets of the same repository that share at least `replication_min_shared_commits` commits.
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
{% set explicit = var('replication_pairs', []) %}
with sets as (
    select repo, source_name, machine, list(distinct commit_hash) as commits
    from {{ ref('fct_measurements') }}
    where status = 'ok' and repo is not null
    group by all
),

candidates as (
    select
        a.repo,
        a.source_name as a_source,
        a.machine     as a_machine,
        b.source_name as b_source,
        b.machine     as b_machine,
        len(list_intersect(a.commits, b.commits)) as n_shared_commits
    from sets as a
    join sets as b
        on a.repo = b.repo
        and (a.source_name, a.machine) < (b.source_name, b.machine)
)

select *
from candidates
{% if explicit %}
where (a_source, a_machine, b_source, b_machine) in (
    {%- for p in explicit %}
    ('{{ p.a_source }}', '{{ p.a_machine }}', '{{ p.b_source }}', '{{ p.b_machine }}'),
    ('{{ p.b_source }}', '{{ p.b_machine }}', '{{ p.a_source }}', '{{ p.a_machine }}'){{ "," if not loop.last }}
    {%- endfor %}
)
{% else %}
where n_shared_commits >= {{ var('replication_min_shared_commits', 10) }}
{% endif %}
