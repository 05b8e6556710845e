-- Version 1 of the cash-flow fact (contracts/cashflow.v1.json), served beside v2 for the
-- /api/v1 consumers: the same rows without the currency column.
select
    date,
    company_id,
    project_id,
    category,
    status,
    amount_planned,
    amount_actual,
    load_ts
from {{ ref('mart_fact_cashflow') }}
