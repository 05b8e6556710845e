-- CEO KPIs, one row per company at var('as_of_date'): cash position and cash days, backlog,
-- AR / AP totals, average supply lead time and gross margin.
-- On Postgres a materialized view, refreshed concurrently so that dashboards are never blocked.
{{ config(
    materialized='materialized_view' if target.type == 'postgres' else 'table',
    unique_key='company_id'
) }}
with companies as (
    select
        company_id,
        company_name
    from {{ ref('stg_companies') }}
),

cash_position as (
    select
        company_id,
        sum(case when status = 'actual' and date <= {{ as_of_date() }} then amount_actual else 0 end) as cash_balance,
        -- cash burn: actual outflows of the last 90 days up to the reporting date
        sum(
            case
                when status = 'actual'
                    and amount_actual < 0
                    and {{ days_between('date', as_of_date()) }} between 0 and 89
                    then -amount_actual
                else 0
            end
        ) as outflows_90d
    from {{ ref('mart_fact_cashflow') }}
    group by company_id
),

sales as (
    select
        company_id,
        sum(amount_untaxed) as revenue
    from {{ ref('mart_fact_sales') }}
    where date <= {{ as_of_date() }}
    group by company_id
),

contracts as (
    select
        company_id,
        sum(contract_amount) as contract_amount
    from {{ ref('stg_projects') }}
    group by company_id
),

latest_progress as (
    select
        project_id,
        max(period) as period
    from {{ ref('mart_fact_wip') }}
    where period <= {{ as_of_date() }}
    group by project_id
),

costs as (
    select
        w.company_id,
        sum(w.actual_cost) as actual_cost
    from {{ ref('mart_fact_wip') }} as w
    inner join latest_progress as lp
        on w.project_id = lp.project_id
        and w.period = lp.period
    group by w.company_id
),

receivables as (
    select
        company_id,
        sum(total) as ar_total,
        sum(bucket_90_plus) as ar_90_plus
    from {{ ref('mart_ar_aging') }}
    group by company_id
),

payables as (
    select
        company_id,
        sum(total) as ap_total
    from {{ ref('mart_ap_aging') }}
    group by company_id
),

supply as (
    select
        company_id,
        avg(cast(lead_time_days as decimal(10, 2))) as supply_lead_time_days,
        cast(count(lead_time_days) as integer) as received_orders
    from {{ ref('stg_purchase_orders') }}
    where received_date is not null
        and received_date <= {{ as_of_date() }}
    group by company_id
)

select
    c.company_id,
    c.company_name,
    {{ as_of_date() }} as as_of_date,
    cast(coalesce(cash.cash_balance, 0) as decimal(18, 2)) as cash_balance,
    cast({{ safe_divide('cash.cash_balance', 'cash.outflows_90d / 90') }} as decimal(18, 1)) as cash_days,
    cast(coalesce(k.contract_amount, 0) - coalesce(s.revenue, 0) as decimal(18, 2)) as backlog,
    cast(coalesce(r.ar_total, 0) as decimal(18, 2)) as ar_total,
    cast(coalesce(r.ar_90_plus, 0) as decimal(18, 2)) as ar_90_plus,
    cast(coalesce(p.ap_total, 0) as decimal(18, 2)) as ap_total,
    cast(sup.supply_lead_time_days as decimal(10, 1)) as supply_lead_time_days,
    cast(coalesce(s.revenue, 0) as decimal(18, 2)) as revenue,
    cast(coalesce(co.actual_cost, 0) as decimal(18, 2)) as actual_cost,
    cast({{ safe_divide('s.revenue - co.actual_cost', 's.revenue') }} as decimal(18, 4)) as gross_margin
from companies as c
left join cash_position as cash
    on c.company_id = cash.company_id
left join sales as s
    on c.company_id = s.company_id
left join contracts as k
    on c.company_id = k.company_id
left join costs as co
    on c.company_id = co.company_id
left join receivables as r
    on c.company_id = r.company_id
left join payables as p
    on c.company_id = p.company_id
left join supply as sup
    on c.company_id = sup.company_id
