select
    operation_id,
    plan_id,
    plan_name,
    area_level,
    area_code,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('started_at') }} as started_at,
    started_by,
    trigger_detail,
    note,
    start_key
from {{ source('operations', 'operations') }}
