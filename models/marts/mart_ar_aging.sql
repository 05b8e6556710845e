-- Accounts receivable aging at var('as_of_date'), per company and customer.
-- days past due = as_of_date - due_date; items not yet due count in bucket_0_30.
with open_items as (
    select
        company_id,
        partner_id,
        days_past_due,
        amount_residual
    from {{ ref('int_open_items') }}
    where item_type = 'receivable'
),

partners as (
    select
        partner_id,
        partner_name
    from {{ ref('stg_partners') }}
)

select
    {{ as_of_date() }} as as_of_date,
    o.company_id,
    o.partner_id,
    p.partner_name,
    cast(sum(case when o.days_past_due <= 30 then o.amount_residual else 0 end) as decimal(18, 2)) as bucket_0_30,
    cast(sum(case when o.days_past_due between 31 and 60 then o.amount_residual else 0 end) as decimal(18, 2)) as bucket_31_60,
    cast(sum(case when o.days_past_due between 61 and 90 then o.amount_residual else 0 end) as decimal(18, 2)) as bucket_61_90,
    cast(sum(case when o.days_past_due > 90 then o.amount_residual else 0 end) as decimal(18, 2)) as bucket_90_plus,
    cast(sum(o.amount_residual) as decimal(18, 2)) as total,
    cast(count(*) as integer) as open_items,
    cast(max(o.days_past_due) as integer) as max_days_past_due
from open_items as o
inner join partners as p
    on o.partner_id = p.partner_id
group by o.company_id, o.partner_id, p.partner_name
