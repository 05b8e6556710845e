{#- The reporting date (var as_of_date) as a date literal that both engines accept. -#}
{% macro as_of_date() -%}
    cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}

{#-
    A Chilean RUT in canonical form: no dots, no spaces, no "CL" country prefix, upper-case check
    digit, and a hyphen before the check digit ("76.482.915-8", "78936513k", "CL79640218-0" become
    "76482915-8", "78936513-K", "79640218-0").
-#}
{% macro normalize_rut(column) -%}
    {%- set cleaned = "replace(replace(replace(upper(trim(" ~ column ~ ")), '.', ''), ' ', ''), 'CL', '')" -%}
    case
        when position('-' in {{ cleaned }}) > 0 then {{ cleaned }}
        else substr({{ cleaned }}, 1, length({{ cleaned }}) - 1) || '-' || substr({{ cleaned }}, length({{ cleaned }}), 1)
    end
{%- endmacro %}
