-- Cash-flow fact: planned and actual amounts per date, company, project, category and status.
select
    cashflow_date as date,
    company_id,
    project_id,
    category,
    status,
    cast(sum(case when status = 'planned' then amount else 0 end) as decimal(18, 2)) as amount_planned,
    cast(sum(case when status = 'actual' then amount else 0 end) as decimal(18, 2)) as amount_actual,
    max(load_ts) as load_ts
from {{ ref('stg_cashflow_lines') }}
group by cashflow_date, company_id, project_id, category, status
