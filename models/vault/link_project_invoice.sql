-- Which project each invoice bills.
with invoices as (
    select
        company_id,
        invoice_number,
        project_id,
        load_ts
    from {{ ref('stg_invoices') }}
),

projects as (
    select
        project_id,
        project_code
    from {{ ref('stg_projects') }}
)

select
    {{ hash_key(['p.project_code', 'i.company_id', 'i.invoice_number']) }} as hk_project_invoice,
    {{ hash_key('p.project_code') }} as hk_project,
    {{ hash_key(['i.company_id', 'i.invoice_number']) }} as hk_invoice,
    min(i.load_ts) as load_ts,
    cast('odoo.account.move' as varchar) as record_source
from invoices as i
inner join projects as p
    on i.project_id = p.project_id
group by p.project_code, i.company_id, i.invoice_number
