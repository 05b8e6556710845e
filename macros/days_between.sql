{#-
    Whole days from start_date to end_date (positive when end_date is later), for date expressions.
    The two engines spell date arithmetic differently, so the macro dispatches on the target type:
    adapter.dispatch('days_between') resolves duckdb__days_between or postgres__days_between, and
    default__days_between for any other engine.
-#}
{% macro days_between(start_date, end_date) -%}
    {{ adapter.dispatch('days_between')(start_date, end_date) }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    date_diff('day', cast({{ start_date }} as date), cast({{ end_date }} as date))
{%- endmacro %}

{% macro postgres__days_between(start_date, end_date) -%}
    (({{ end_date }})::date - ({{ start_date }})::date)
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff(cast({{ end_date }} as date), cast({{ start_date }} as date))
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    {{ exceptions.raise_compiler_error("days_between is not implemented for target type '" ~ target.type ~ "'") }}
{%- endmacro %}
