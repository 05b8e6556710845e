-- Construction projects (Odoo project.project) with their contract and cost budget.
with source as (
    select
        project_id,
        company_id,
        code,
        name,
        partner_id,
        contract_amount,
        budget_cost,
        start_date,
        planned_end_date,
        state,
        load_ts
    from {{ source('odoo', 'projects') }}
)

select
    cast(project_id as integer) as project_id,
    cast(company_id as integer) as company_id,
    cast(upper(trim(code)) as varchar) as project_code,
    cast(trim(name) as varchar) as project_name,
    cast(partner_id as integer) as customer_id,
    cast(contract_amount as decimal(18, 2)) as contract_amount,
    cast(budget_cost as decimal(18, 2)) as budget_cost,
    cast(start_date as date) as start_date,
    cast(planned_end_date as date) as planned_end_date,
    cast(lower(trim(state)) as varchar) as state,
    cast(load_ts as timestamp) as load_ts
from source
