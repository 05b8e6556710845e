-- Open supplier bills (accounts payable); po_id is empty for subcontract progress certificates
-- and other bills without a purchase order.
with source as (
    select
        payable_id,
        company_id,
        partner_id,
        po_id,
        document_number,
        document_date,
        due_date,
        amount_residual,
        load_ts
    from {{ source('odoo', 'payables') }}
)

select
    cast(payable_id as integer) as payable_id,
    cast(company_id as integer) as company_id,
    cast(partner_id as integer) as partner_id,
    cast(po_id as integer) as po_id,
    cast(upper(trim(document_number)) as varchar) as document_number,
    cast(document_date as date) as document_date,
    cast(due_date as date) as due_date,
    cast(amount_residual as decimal(18, 2)) as amount_residual,
    cast(load_ts as timestamp) as load_ts
from source
where amount_residual <> 0
