-- Which customer each invoice is addressed to.
with invoices as (
    select
        company_id,
        invoice_number,
        partner_id,
        load_ts
    from {{ ref('stg_invoices') }}
),

partners as (
    select
        partner_id,
        rut
    from {{ ref('stg_partners') }}
)

select
    {{ hash_key(['i.company_id', 'i.invoice_number', 'p.rut']) }} as hk_invoice_partner,
    {{ hash_key(['i.company_id', 'i.invoice_number']) }} as hk_invoice,
    {{ hash_key('p.rut') }} as hk_partner,
    min(i.load_ts) as load_ts,
    cast('odoo.account.move' as varchar) as record_source
from invoices as i
inner join partners as p
    on i.partner_id = p.partner_id
group by i.company_id, i.invoice_number, p.rut
