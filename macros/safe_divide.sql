{#-
    numerator / denominator as a double, or null when the denominator is zero (or null).
    Both operands are cast so that integer inputs never truncate on PostgreSQL.
-#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}
