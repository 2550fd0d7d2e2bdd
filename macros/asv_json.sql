{#- Reading numbers out of asv's JSON by type, so that a value of the wrong type becomes null with a
    flag instead of failing the model (a plain cast of '"x"' to double raises, and one such value
    anywhere stopped every source from loading). A JSON string is never taken as a number. -#}

{% macro json_number_types() -%}
    ('BIGINT', 'UBIGINT', 'DOUBLE')
{%- endmacro %}

{#- The JSON value as `type` when it is a JSON number, else null. -#}
{% macro json_number(expr, type) -%}
    case when json_type({{ expr }}) in {{ json_number_types() }} then try_cast({{ expr }} as {{ type }}) end
{%- endmacro %}

{#- True when the JSON value is present and not a number (JSON null and a missing value are fine). -#}
{% macro json_not_number(expr) -%}
    coalesce(json_type({{ expr }}) not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE'), false)
{%- endmacro %}

{#- A list of JSON values as doubles, each null unless a JSON number. -#}
{% macro json_list_numbers(list) -%}
    list_transform({{ list }}, lambda x: {{ json_number('x', 'double') }})
{%- endmacro %}

{#- True when any element of a list of JSON values is present and not a number. -#}
{% macro json_list_not_numbers(list) -%}
    coalesce(list_bool_or(list_transform({{ list }}, lambda x: {{ json_not_number('x') }})), false)
{%- endmacro %}
