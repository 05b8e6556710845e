{#-
    dbt's override hook for custom schemas. By default a node configured with `schema: marts` is built
    in `<target schema>_marts`; OFITEC wants the layer schemas as they are (raw, staging, vault, marts)
    in both warehouses, as the analytics database already grants `bi_reader` on schema `marts`.
    Nodes without a custom schema land in the target's schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}
    {%- endif -%}
{%- endmacro %}
