-- Sales fact: invoiced amounts per invoice date, company and project, read from the vault.
-- On Postgres each company's reader role sees only its own rows (macros/company_row_security.sql).
{{ config(
    post_hook="{{ company_row_security() }}",
    grants={'select': ['bi_reader', 'company_1_reader', 'company_2_reader']}
) }}
with project_invoices as (
    select
        hk_project,
        hk_invoice
    from {{ ref('link_project_invoice') }}
),

invoice_keys as (
    select
        hk_invoice,
        company_id
    from {{ ref('hub_invoice') }}
),

invoice_details as (
    select
        hk_invoice,
        invoice_date,
        amount_untaxed,
        amount_tax,
        amount_total,
        load_ts
    from {{ ref('sat_invoice_details') }}
),

project_details as (
    select
        hk_project,
        project_name
    from {{ ref('sat_project_details') }}
)

select
    d.invoice_date as date,
    k.company_id as company_id,
    l.hk_project as hk_project,
    cast(p.project_name as varchar) as project,
    cast(sum(d.amount_untaxed) as decimal(18, 2)) as amount_untaxed,
    cast(sum(d.amount_tax) as decimal(18, 2)) as amount_tax,
    cast(sum(d.amount_total) as decimal(18, 2)) as amount_total,
    max(d.load_ts) as load_ts
from project_invoices as l
inner join invoice_keys as k
    on l.hk_invoice = k.hk_invoice
inner join invoice_details as d
    on l.hk_invoice = d.hk_invoice
left join project_details as p
    on l.hk_project = p.hk_project
group by d.invoice_date, k.company_id, l.hk_project, p.project_name
