-- Purchase orders (Odoo purchase.order) with the supply lead time: days from order to reception.
-- Orders not yet received have no received_date and no lead time.
with source as (
    select
        po_id,
        company_id,
        project_id,
        partner_id,
        po_number,
        order_date,
        expected_date,
        received_date,
        amount,
        state,
        load_ts
    from {{ source('odoo', 'purchase_orders') }}
)

select
    cast(po_id as integer) as po_id,
    cast(company_id as integer) as company_id,
    cast(project_id as integer) as project_id,
    cast(partner_id as integer) as supplier_id,
    cast(upper(trim(po_number)) as varchar) as po_number,
    cast(order_date as date) as order_date,
    cast(expected_date as date) as expected_date,
    cast(received_date as date) as received_date,
    cast({{ days_between('order_date', 'received_date') }} as integer) as lead_time_days,
    cast({{ days_between('expected_date', 'received_date') }} as integer) as delay_days,
    cast(amount as decimal(18, 2)) as amount,
    cast(lower(trim(state)) as varchar) as state,
    cast(load_ts as timestamp) as load_ts
from source
