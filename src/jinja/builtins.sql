{#-
    Built-in cross-dialect macros, with dbt's names and arguments. Each one dispatches on the
    target's engine (duckdb__x, postgres__x, else default__x); a project macro of the same name
    replaces the built-in one, and a project's `postgres__x` replaces just that variant. They are
    also reachable as `dbt.x(...)`, so dbt projects compile unchanged.
-#}

{#- from_date_or_timestamp plus `interval` units of `datepart` (a timestamp). -#}
{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
    {{ adapter.dispatch('dateadd')(datepart, interval, from_date_or_timestamp) }}
{%- endmacro %}

{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
    (cast({{ from_date_or_timestamp }} as timestamp) + ((interval '1 {{ datepart }}') * ({{ interval }})))
{%- endmacro %}

{#-
    The number of `datepart` boundaries crossed from first_date to second_date, as DuckDB's
    date_diff counts them (weeks: whole weeks of days): day, week, month, quarter, year, hour,
    minute, second.
-#}
{% macro datediff(first_date, second_date, datepart) -%}
    {{ adapter.dispatch('datediff')(first_date, second_date, datepart) }}
{%- endmacro %}

{% macro duckdb__datediff(first_date, second_date, datepart) -%}
    date_diff('{{ datepart }}', cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
{%- endmacro %}

{% macro postgres__datediff(first_date, second_date, datepart) -%}
    {%- set part = datepart | lower | trim -%}
    {%- set a = "cast(" ~ first_date ~ " as timestamp)" -%}
    {%- set b = "cast(" ~ second_date ~ " as timestamp)" -%}
    {%- set days = "(cast(" ~ b ~ " as date) - cast(" ~ a ~ " as date))" -%}
    {%- if part == 'day' -%}
        {{ days }}
    {%- elif part == 'week' -%}
        ({{ days }} / 7)
    {%- elif part in ('month', 'quarter', 'year') -%}
        {%- set months = "((date_part('year', " ~ b ~ ") - date_part('year', " ~ a ~ ")) * 12 + date_part('month', " ~ b ~ ") - date_part('month', " ~ a ~ "))" -%}
        {%- if part == 'month' -%}
            cast({{ months }} as bigint)
        {%- elif part == 'year' -%}
            cast(date_part('year', {{ b }}) - date_part('year', {{ a }}) as bigint)
        {%- else -%}
            cast((date_part('year', {{ b }}) - date_part('year', {{ a }})) * 4 + date_part('quarter', {{ b }}) - date_part('quarter', {{ a }}) as bigint)
        {%- endif -%}
    {%- elif part in ('hour', 'minute', 'second') -%}
        {%- set hours = "(" ~ days ~ " * 24 + date_part('hour', " ~ b ~ ") - date_part('hour', " ~ a ~ "))" -%}
        {%- set minutes = "(" ~ hours ~ " * 60 + date_part('minute', " ~ b ~ ") - date_part('minute', " ~ a ~ "))" -%}
        {%- if part == 'hour' -%}
            cast({{ hours }} as bigint)
        {%- elif part == 'minute' -%}
            cast({{ minutes }} as bigint)
        {%- else -%}
            cast({{ minutes }} * 60 + floor(date_part('second', {{ b }})) - floor(date_part('second', {{ a }})) as bigint)
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff: unsupported datepart '" ~ datepart ~ "' (day, week, month, quarter, year, hour, minute, second)") }}
    {%- endif -%}
{%- endmacro %}

{#- `date` truncated to the start of its `datepart`. -#}
{% macro date_trunc(datepart, date) -%}
    {{ adapter.dispatch('date_trunc')(datepart, date) }}
{%- endmacro %}

{% macro default__date_trunc(datepart, date) -%}
    date_trunc('{{ datepart }}', {{ date }})
{%- endmacro %}

{#- cast(field as type). -#}
{% macro cast(field, type) -%}
    {{ adapter.dispatch('cast')(field, type) }}
{%- endmacro %}

{% macro default__cast(field, type) -%}
    cast({{ field }} as {{ type }})
{%- endmacro %}

{#-
    field as `type`, or null when it does not convert. Postgres (before 16) has no such cast:
    there the text is checked first for integer, numeric, boolean and date types; other types
    are cast as they are.
-#}
{% macro safe_cast(field, type) -%}
    {{ adapter.dispatch('safe_cast')(field, type) }}
{%- endmacro %}

{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro postgres__safe_cast(field, type) -%}
    {%- set t = type | lower | trim -%}
    {%- set base = (t | split('(') | first) | trim -%}
    {%- set text = "trim(cast(" ~ field ~ " as text))" -%}
    {%- if base in ('int', 'integer', 'bigint', 'smallint', 'int2', 'int4', 'int8') -%}
        case when {{ text }} ~ '^[-+]?[0-9]{1,18}$' then cast({{ text }} as {{ type }}) end
    {%- elif base in ('numeric', 'decimal', 'real', 'float', 'float4', 'float8', 'double precision', 'double') -%}
        case when {{ text }} ~* '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)(e[-+]?[0-9]+)?$' then cast({{ text }} as {{ type }}) end
    {%- elif base in ('boolean', 'bool') -%}
        case when lower({{ text }}) in ('true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', '1', '0', 'on', 'off') then cast({{ text }} as boolean) end
    {%- elif base == 'date' -%}
        case when {{ text }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' then
            case when cast(substr({{ text }}, 9, 2) as integer)
                <= extract(day from cast(substr({{ text }}, 1, 7) || '-01' as date) + interval '1 month' - interval '1 day')
            then cast({{ text }} as date) end
        end
    {%- else -%}
        cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}

{#- The values of `measure` joined by `delimiter_text`, optionally ordered and limited. -#}
{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
    {{ adapter.dispatch('listagg')(measure, delimiter_text, order_by_clause, limit_num) }}
{%- endmacro %}

{% macro duckdb__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        array_to_string(list_slice(array_agg(cast({{ measure }} as varchar) {{ order_by_clause or '' }}), 1, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
        string_agg(cast({{ measure }} as varchar), {{ delimiter_text }} {{ order_by_clause or '' }})
    {%- endif -%}
{%- endmacro %}

{% macro postgres__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        array_to_string((array_agg(cast({{ measure }} as text) {{ order_by_clause or '' }}))[1:{{ limit_num }}], {{ delimiter_text }})
    {%- else -%}
        string_agg(cast({{ measure }} as text), {{ delimiter_text }} {{ order_by_clause or '' }})
    {%- endif -%}
{%- endmacro %}

{#- Any one value of the group (Postgres 15 has no any_value: the smallest one). -#}
{% macro any_value(expression) -%}
    {{ adapter.dispatch('any_value')(expression) }}
{%- endmacro %}

{% macro duckdb__any_value(expression) -%}
    any_value({{ expression }})
{%- endmacro %}

{% macro postgres__any_value(expression) -%}
    min({{ expression }})
{%- endmacro %}

{#- The current date and time (with time zone). -#}
{% macro current_timestamp() -%}
    {{ adapter.dispatch('current_timestamp')() }}
{%- endmacro %}

{% macro default__current_timestamp() -%}
    now()
{%- endmacro %}

{#- The fields (expressions) concatenated as text. -#}
{% macro concat(fields) -%}
    {{ adapter.dispatch('concat')(fields) }}
{%- endmacro %}

{% macro default__concat(fields) -%}
    ({{ fields | join(' || ') }})
{%- endmacro %}

{#- Portable type names. -#}
{% macro type_string() -%}{{ adapter.dispatch('type_string')() }}{%- endmacro %}
{% macro duckdb__type_string() -%}varchar{%- endmacro %}
{% macro postgres__type_string() -%}text{%- endmacro %}
{% macro type_timestamp() -%}timestamp{%- endmacro %}
{% macro type_int() -%}integer{%- endmacro %}
{% macro type_bigint() -%}bigint{%- endmacro %}
{% macro type_float() -%}double precision{%- endmacro %}
{% macro type_numeric() -%}numeric(28, 6){%- endmacro %}
{% macro type_boolean() -%}boolean{%- endmacro %}

{#- md5 of a value's text, as a hex string. -#}
{% macro hash(field) -%}
    {{ adapter.dispatch('hash')(field) }}
{%- endmacro %}

{% macro default__hash(field) -%}
    md5(cast({{ field }} as {{ dbt.type_string() }}))
{%- endmacro %}

{#- A SQL string literal of `value`, written as it is (dbt's: quotes inside are not doubled). -#}
{% macro string_literal(value) -%}'{{ value }}'{%- endmacro %}

{#- `expression` with its single quotes doubled, to go inside a string literal. -#}
{% macro escape_single_quotes(expression) -%}{{ expression | replace("'", "''") }}{%- endmacro %}

{#- The `part_number`th piece of `string_text` split on `delimiter_text` (from 1). -#}
{% macro split_part(string_text, delimiter_text, part_number) -%}
    split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}

{#- `field` with every `old_chars` replaced by `new_chars`. -#}
{% macro replace(field, old_chars, new_chars) -%}
    replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro %}

{#- The number of characters of `expression`. -#}
{% macro length(expression) -%}length({{ expression }}){%- endmacro %}

{#- The last `length_expression` characters of `string_text`. -#}
{% macro right(string_text, length_expression) -%}
    right({{ string_text }}, {{ length_expression }})
{%- endmacro %}

{#- Where `substring_text` starts in `string_text` (from 1; 0 when absent). -#}
{% macro position(substring_text, string_text) -%}
    position({{ substring_text }} in {{ string_text }})
{%- endmacro %}

{#- A boolean as text (`true`/`false`). -#}
{% macro cast_bool_to_text(field) -%}
    cast({{ field }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- True when any row's `expression` is true. -#}
{% macro bool_or(expression) -%}bool_or({{ expression }}){%- endmacro %}

{#- The set operators, as dbt spells them. -#}
{% macro except() -%}except{%- endmacro %}
{% macro intersect() -%}intersect{%- endmacro %}
