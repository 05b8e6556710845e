-- Customer invoices (Odoo account.move, progress certificates and price adjustments).
-- Cancelled invoices are dropped: they were re-issued under a new number.
with source as (
    select
        invoice_id,
        company_id,
        project_id,
        partner_id,
        invoice_number,
        invoice_date,
        due_date,
        amount_untaxed,
        amount_tax,
        amount_total,
        state,
        write_date,
        load_ts
    from {{ source('odoo', 'invoices') }}
)

select
    cast(invoice_id as integer) as invoice_id,
    cast(company_id as integer) as company_id,
    cast(project_id as integer) as project_id,
    cast(partner_id as integer) as partner_id,
    cast(upper(trim(invoice_number)) as varchar) as invoice_number,
    cast(invoice_date as date) as invoice_date,
    cast(due_date as date) as due_date,
    cast({{ days_between('invoice_date', 'due_date') }} as integer) as payment_term_days,
    cast(amount_untaxed as decimal(18, 2)) as amount_untaxed,
    cast(amount_tax as decimal(18, 2)) as amount_tax,
    cast(amount_total as decimal(18, 2)) as amount_total,
    cast(lower(trim(state)) as varchar) as state,
    cast(write_date as timestamp) as write_date,
    cast(load_ts as timestamp) as load_ts
from source
where lower(trim(state)) <> 'cancel'
