-- Customers and suppliers (Odoo res.partner). The RUT comes in every spelling Odoo users type;
-- it is normalised here so it can serve as the partner's business key in the vault.
with source as (
    select
        partner_id,
        name,
        vat,
        email,
        phone,
        partner_type,
        city,
        load_ts
    from {{ source('odoo', 'partners') }}
)

select
    cast(partner_id as integer) as partner_id,
    cast(trim(name) as varchar) as partner_name,
    cast({{ normalize_rut('vat') }} as varchar) as rut,
    cast(lower(trim(email)) as varchar) as email,
    cast(trim(phone) as varchar) as phone,
    cast(lower(trim(partner_type)) as varchar) as partner_type,
    cast(trim(city) as varchar) as city,
    cast(load_ts as timestamp) as load_ts
from source
