-- Hub of customer invoices; business key: company and invoice number (folios restart per company).
select
    {{ hash_key(['company_id', 'invoice_number']) }} as hk_invoice,
    company_id,
    invoice_number,
    min(load_ts) as load_ts,
    cast('odoo.account.move' as varchar) as record_source
from {{ ref('stg_invoices') }}
group by company_id, invoice_number
