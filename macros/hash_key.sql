{#-
    Data Vault hash key: md5 over the business key columns, each cast to text, trimmed and
    upper-cased, joined with '||' (a null becomes the empty string). md5(), upper(), trim(),
    coalesce() and || behave the same in DuckDB and PostgreSQL, so a key computed in dev equals
    the key computed in prod. The result is cast to varchar (md5 returns text on PostgreSQL).

    columns: one column expression (a string) or a list of them, in business-key order.
        {{ hash_key('project_code') }}
        {{ hash_key(['company_id', 'invoice_number']) }}
-#}
{% macro hash_key(columns) -%}
    {%- set cols = [columns] if columns is string else columns -%}
    cast(md5(
    {%- for col in cols -%}
        coalesce(upper(trim(cast({{ col }} as varchar))), '')
        {%- if not loop.last %} || '||' || {% endif -%}
    {%- endfor -%}
    ) as varchar)
{%- endmacro %}
