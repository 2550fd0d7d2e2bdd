{#- Schemas are named exactly as configured (staging, intermediate, main) rather than dbt's
    default <target>_<custom>, so ad hoc SQL can say `select ... from fct_measurements`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- (custom_schema_name or target.schema) | trim -}}
{%- endmacro %}
