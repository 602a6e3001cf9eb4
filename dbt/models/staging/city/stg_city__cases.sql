select
    case_id,
    category as category_code,
    source as case_source,
    district_code,
    street_code,
    community_code,
    grid_code,
    asset_id,
    {{ local_timestamp('reported_at') }} as reported_at,
    {{ local_timestamp('dispatched_at') }} as dispatched_at,
    {{ local_timestamp('closed_at') }} as closed_at,
    status
from {{ source('city', 'city_cases') }}
