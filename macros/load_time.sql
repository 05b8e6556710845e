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

{% macro spark__load_time() -%}
    cast(current_timestamp() as timestamp_ntz)
{%- endmacro %}

{#-
    A seed's post-hook: every row's load_ts becomes the time of this load (see load_time()).
-#}
{% macro stamp_load_time() -%}
    {{ adapter.dispatch('stamp_load_time')() }}
{%- endmacro %}

{% macro default__stamp_load_time() -%}
    update {{ this }} set load_ts = {{ load_time() }}
{%- endmacro %}

{#-
    Spark's parquet tables take no UPDATE, and a table cannot be overwritten from itself: the
    rows go through a copy with the new load_ts (the pipe operator `set` keeps the columns'
    order), then overwrite the seed.
-#}
{% macro spark__stamp_load_time() -%}
    {%- set copy = this.schema ~ '.' ~ this.identifier ~ '__stamped' -%}
    drop table if exists {{ copy }};
    create table {{ copy }} as from {{ this }} |> set load_ts = {{ load_time() }};
    insert overwrite table {{ this }} select * from {{ copy }};
    drop table {{ copy }}
{%- endmacro %}
