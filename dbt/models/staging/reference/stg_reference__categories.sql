select category_code, category_name, department, cast(sla_days as integer) as sla_days
from {{ source('reference', 'ref_categories') }}
