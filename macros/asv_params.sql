{#- asv's parameter grids: a result vector lists the combinations of `grid` (a list of lists of
    repr strings) in itertools.product order, the last parameter varying fastest. Shared by the
    results and the dashboard models so both write the same canonical params text. -#}

{#- Number of combinations in a grid (1 for no parameters). -#}
{% macro asv_grid_size(grid) -%}
    cast(coalesce(list_aggregate(list_transform({{ grid }}, lambda p: len(p)), 'product'), 1) as bigint)
{%- endmacro %}

{#- For each parameter, how many combinations one step of it spans (the product of the later sizes). -#}
{% macro asv_grid_strides(grid) -%}
    list_transform(
        range(len({{ grid }})),
        lambda j: cast(
            coalesce(list_aggregate(list_transform({{ grid }}[j + 2:], lambda p: len(p)), 'product'), 1) as bigint
        )
    )
{%- endmacro %}

{#- The names to print: `names` when it fits the grid, else param1, param2, ... as asv does. -#}
{% macro asv_param_names(names, grid) -%}
    case
        when len({{ names }}) = len({{ grid }}) then {{ names }}
        else list_transform(range(len({{ grid }})), lambda j: 'param' || (j + 1))
    end
{%- endmacro %}

{#- Canonical text `name=value, name2=value2` of combination `index` (0-based); '' for no parameters. -#}
{% macro asv_params_text(names, grid, strides, index) -%}
    array_to_string(
        list_transform(
            range(len({{ grid }})),
            lambda j: {{ names }}[j + 1] || '='
                || {{ grid }}[j + 1][({{ index }} // {{ strides }}[j + 1]) % len({{ grid }}[j + 1]) + 1]
        ),
        ', '
    )
{%- endmacro %}
