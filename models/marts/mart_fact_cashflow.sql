-- Cash-flow fact: planned and actual amounts per date, company, project, category and status,
-- in the company's currency. Published under contract cashflow v2 (contracts/cashflow.v2.json);
-- mart_fact_cashflow_v1 keeps serving the v1 shape.
select
    l.cashflow_date as date,
    l.company_id,
    l.project_id,
    l.category,
    l.status,
    cast(sum(case when l.status = 'planned' then l.amount else 0 end) as decimal(18, 2)) as amount_planned,
    cast(sum(case when l.status = 'actual' then l.amount else 0 end) as decimal(18, 2)) as amount_actual,
    c.currency_code as currency,
    max(l.load_ts) as load_ts
from {{ ref('stg_cashflow_lines') }} as l
inner join {{ ref('stg_companies') }} as c
    on c.company_id = l.company_id
group by l.cashflow_date, l.company_id, l.project_id, l.category, l.status, c.currency_code
