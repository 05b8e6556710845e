-- Work in progress / earned value (EVM) per project and month:
-- earned value = % complete x budget at completion; CPI = EV / AC; SPI = EV / PV.
with progress as (
    select
        project_id,
        period_end,
        percent_complete,
        planned_value,
        actual_cost
    from {{ ref('stg_progress') }}
),

projects as (
    select
        project_id,
        company_id,
        project_code,
        project_name,
        budget_cost
    from {{ ref('stg_projects') }}
),

evm as (
    select
        pr.project_id,
        p.company_id,
        p.project_code,
        p.project_name,
        pr.period_end,
        pr.percent_complete,
        pr.planned_value,
        cast(pr.percent_complete * p.budget_cost / 100 as decimal(18, 2)) as earned_value,
        pr.actual_cost
    from progress as pr
    inner join projects as p
        on pr.project_id = p.project_id
)

select
    project_id,
    company_id,
    project_code,
    project_name as project,
    period_end as period,
    cast(percent_complete as decimal(5, 2)) as percent_complete,
    cast(planned_value as decimal(18, 2)) as planned_value,
    earned_value,
    cast(actual_cost as decimal(18, 2)) as actual_cost,
    cast({{ safe_divide('earned_value', 'actual_cost') }} as decimal(18, 4)) as cpi,
    cast({{ safe_divide('earned_value', 'planned_value') }} as decimal(18, 4)) as spi
from evm
