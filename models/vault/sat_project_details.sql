-- Descriptive attributes of each project: name, customer, contract and budget.
select
    {{ hash_key('project_code') }} as hk_project,
    {{ hash_key(['project_name', 'customer_id', 'contract_amount', 'budget_cost', 'planned_end_date', 'state']) }} as hash_diff,
    project_id,
    company_id,
    project_name,
    customer_id,
    contract_amount,
    budget_cost,
    start_date,
    planned_end_date,
    state,
    load_ts,
    cast('odoo.project.project' as varchar) as record_source
from {{ ref('stg_projects') }}
