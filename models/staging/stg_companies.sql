-- Companies of the OFITEC group. The list is a seed maintained in the repository, so this model
-- reads it with ref() like any other node instead of going through the odoo source.
select
    cast(company_id as integer) as company_id,
    cast(trim(name) as varchar) as company_name,
    cast({{ normalize_rut('vat') }} as varchar) as company_rut,
    cast(trim(city) as varchar) as city,
    cast(upper(trim(currency)) as varchar) as currency_code,
    cast(load_ts as timestamp) as load_ts
from {{ ref('raw_companies') }}
