{#-
    The time a row lands in raw, as the ETL stamps it: a timestamp without time zone in UTC
    (the freshness SLO reads load_ts as UTC). Seeds are this repository's raw extracts, so
    loading a seed is the landing: each seed's post-hook sets load_ts to this.
-#}
{% macro load_time() -%}
    {{ adapter.dispatch('load_time')() }}
{%- endmacro %}

{% macro duckdb__load_time() -%}
    make_timestamp(epoch_us(current_timestamp))
{%- endmacro %}

{% macro postgres__load_time() -%}
    (now() at time zone 'utc')
{%- endmacro %}

{% macro default__load_time() -%}
    {{ exceptions.raise_compiler_error("load_time is not implemented for target type '" ~ target.type ~ "'") }}
{%- endmacro %}
