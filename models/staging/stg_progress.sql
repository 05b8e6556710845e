-- Monthly site progress reports: cumulative physical progress, planned value and actual cost.
with source as (
    select
        project_id,
        period,
        percent_complete,
        planned_value,
        actual_cost,
        load_ts
    from {{ source('odoo', 'progress') }}
)

select
    cast(project_id as integer) as project_id,
    cast(period as date) as period_end,
    cast(percent_complete as decimal(5, 2)) as percent_complete,
    cast(planned_value as decimal(18, 2)) as planned_value,
    cast(actual_cost as decimal(18, 2)) as actual_cost,
    cast(load_ts as timestamp) as load_ts
from source
