-- Hub of projects; business key: the project code (OF-YY-NNN).
select
    {{ hash_key('project_code') }} as hk_project,
    project_code,
    min(load_ts) as load_ts,
    cast('odoo.project.project' as varchar) as record_source
from {{ ref('stg_projects') }}
group by project_code
