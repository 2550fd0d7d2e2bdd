-- Every parameter combination of every dashboard benchmark, in asv's order (itertools.product,
-- the last parameter varying fastest), from the index's current grid: a dashboard re-maps old
-- results onto it. Names are param1, param2, ... when param_names does not fit.
with benchmarks as (
    select
        *,
        {{ asv_grid_size('param_grid') }}                   as n_combinations,
        {{ asv_grid_strides('param_grid') }}                as strides,
        {{ asv_param_names('param_names', 'param_grid') }}  as names
    from {{ ref('stg_dashboards__benchmarks') }}
)

select
    source_name,
    benchmark,
    n_combinations,
    cast(param_index as integer) as param_index,
    {{ asv_params_text('names', 'param_grid', 'strides', 'param_index') }} as params
from (select *, unnest(range(n_combinations)) as param_index from benchmarks)
