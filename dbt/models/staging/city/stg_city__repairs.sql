select
    repair_id,
    case_id,
    asset_id,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('made_safe_at') }} as made_safe_at,
    {{ local_timestamp('repaired_at') }} as repaired_at,
    cast(cost_yuan as double) as cost_yuan,
    cost_bearer,
    settlement_status,
    {{ local_timestamp('settled_at') }} as settled_at
from {{ source('city', 'city_repairs') }}
