-- Hub of business partners; business key: the normalised RUT (the same company keeps its RUT
-- across Odoo databases, its partner_id does not).
select
    {{ hash_key('rut') }} as hk_partner,
    rut,
    min(load_ts) as load_ts,
    cast('odoo.res.partner' as varchar) as record_source
from {{ ref('stg_partners') }}
group by rut
