{{ config(materialized='ephemeral') }}
-- Open receivables and payables in one shape, with the days past due at the reporting date
-- (negative when not yet due). Ephemeral: inlined into the aging marts, never built.
with receivables as (
    select
        cast('receivable' as varchar) as item_type,
        receivable_id as item_id,
        company_id,
        partner_id,
        document_number,
        document_date,
        due_date,
        amount_residual
    from {{ ref('stg_receivables') }}
),

payables as (
    select
        cast('payable' as varchar) as item_type,
        payable_id as item_id,
        company_id,
        partner_id,
        document_number,
        document_date,
        due_date,
        amount_residual
    from {{ ref('stg_payables') }}
),

open_items as (
    select item_type, item_id, company_id, partner_id, document_number, document_date, due_date, amount_residual
    from receivables
    union all
    select item_type, item_id, company_id, partner_id, document_number, document_date, due_date, amount_residual
    from payables
)

select
    item_type,
    item_id,
    company_id,
    partner_id,
    document_number,
    document_date,
    due_date,
    amount_residual,
    cast({{ days_between('due_date', as_of_date()) }} as integer) as days_past_due
from open_items
