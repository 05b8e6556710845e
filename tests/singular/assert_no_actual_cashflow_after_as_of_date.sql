-- Bank movements cannot be dated after the reporting date: an "actual" cash-flow line in the
-- future is a planned line loaded with the wrong status. Returns the offending rows.
select
    date,
    company_id,
    project_id,
    category,
    amount_actual
from {{ ref('mart_fact_cashflow') }}
where status = 'actual'
    and date > cast('{{ var("as_of_date") }}' as date)
