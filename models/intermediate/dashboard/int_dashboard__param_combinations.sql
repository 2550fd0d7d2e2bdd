-- Every parameter combination of every dashboard benchmark, in asv's order (itertools.product,
-- the last parameter varying fastest), from the index's current grid: a dashboard re-maps old
-- results onto it. Names are param1, param2, ... when param_names does not fit.
with benchmarks as (
    select
        *,
        len(param_grid) as n_params,
        cast(coalesce(list_aggregate(list_transform(param_grid, lambda p: len(p)), 'product'), 1) as bigint)
            as n_combinations,
        list_transform(
            range(len(param_grid)),
            lambda j: cast(
                coalesce(list_aggregate(list_transform(param_grid[j + 2:], lambda p: len(p)), 'product'), 1)
                as bigint
            )
        ) as strides,
        case
            when len(param_names) = len(param_grid) then param_names
            else list_transform(range(len(param_grid)), lambda j: 'param' || (j + 1))
        end as names
    from {{ ref('stg_dashboard__benchmarks') }}
)

select
    source_name,
    benchmark,
    n_combinations,
    cast(param_index as integer) as param_index,
    array_to_string(
        list_transform(
            range(n_params),
            lambda j: names[j + 1] || '=' || param_grid[j + 1][(param_index // strides[j + 1]) % len(param_grid[j + 1]) + 1]
        ),
        ', '
    ) as params
from (select *, unnest(range(n_combinations)) as param_index from benchmarks)
