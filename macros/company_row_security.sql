{#-
    Row-level security per company on a multi-company mart (Postgres; nothing on other engines).
    bi_reader (the BI tool) sees every company; a role named company_<id>_reader sees only the rows
    whose company_id is <id>. Use it as a post-hook on a model with a company_id column, and grant
    SELECT to the company roles in the model's `grants`:

        {{ config(post_hook="{{ company_row_security() }}") }}

    The table is rebuilt on every run, so the policies are created on the new version each time.
-#}
{% macro company_row_security() -%}
    {%- if target.type == 'postgres' -%}
    alter table {{ this }} enable row level security;
    create policy all_companies on {{ this }} for select to bi_reader using (true);
    create policy own_company on {{ this }} for select to public using (
        exists (
            select 1 from pg_catalog.pg_roles r
            where r.rolname = 'company_' || company_id || '_reader'
              and pg_catalog.pg_has_role(current_user, r.oid, 'member')
        )
    )
    {%- endif -%}
{%- endmacro %}
