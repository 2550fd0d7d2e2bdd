-- Per pair of measurement sets x method x set (a or b) x outcome: how many of that set's improvements
-- (significant, above the floor, direction improvement) could be compared with the other set over a
-- shared commit range, and why the rest could not (the reasons of fct_replication_projections;
-- 'compared' when it was, with `n_exact_range` of those over the change point's own commits).
with projections as (
    select * from {{ ref('fct_replication_projections') }}
    where direction = 'improvement'
)

select
    repo,
    method,
    a_source,
    a_machine,
    b_source,
    b_machine,
    found_in                                         as improvement_of,
    coalesce(reason, 'compared')                     as outcome,
    count(*)                                         as n_improvements,
    count(*) filter (where exact_range and reason is null) as n_exact_range
from projections
group by all
