-- Every open receivable falls in exactly one aging bucket, so the buckets add up to the total.
-- Returns the (company, customer) rows where they do not.
select
    company_id,
    partner_id,
    bucket_0_30,
    bucket_31_60,
    bucket_61_90,
    bucket_90_plus,
    total
from {{ ref('mart_ar_aging') }}
where bucket_0_30 + bucket_31_60 + bucket_61_90 + bucket_90_plus <> total
