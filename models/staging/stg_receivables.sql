-- Open customer items (accounts receivable) as extracted at the end of the reporting day.
with source as (
    select
        receivable_id,
        company_id,
        partner_id,
        invoice_id,
        document_number,
        document_date,
        due_date,
        amount_residual,
        load_ts
    from {{ source('odoo', 'receivables') }}
)

select
    cast(receivable_id as integer) as receivable_id,
    cast(company_id as integer) as company_id,
    cast(partner_id as integer) as partner_id,
    cast(invoice_id as integer) as invoice_id,
    cast(upper(trim(document_number)) as varchar) as document_number,
    cast(document_date as date) as document_date,
    cast(due_date as date) as due_date,
    cast(amount_residual as decimal(18, 2)) as amount_residual,
    cast(load_ts as timestamp) as load_ts
from source
where amount_residual <> 0
