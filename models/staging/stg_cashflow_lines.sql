-- Cash-flow lines (Odoo of.cashflow.line): the finance plan (status planned) and the bank
-- movements (status actual). Amounts are signed: inflows positive, outflows negative.
with source as (
    select
        line_id,
        company_id,
        project_id,
        category,
        date,
        status,
        amount,
        load_ts
    from {{ source('odoo', 'cashflow_lines') }}
)

select
    cast(line_id as integer) as line_id,
    cast(company_id as integer) as company_id,
    cast(project_id as integer) as project_id,
    cast(lower(trim(category)) as varchar) as category,
    cast(date as date) as cashflow_date,
    cast(lower(trim(status)) as varchar) as status,
    cast(amount as decimal(18, 2)) as amount,
    cast(load_ts as timestamp) as load_ts
from source
