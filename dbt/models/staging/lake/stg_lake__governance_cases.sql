select
    case_id,
    channel as channel_code,
    category as category_code,
    department,
    district_code,
    street_code,
    community_code,
    grid_code,
    cast(lon as double) as lon,
    cast(lat as double) as lat,
    cast(reported_at as timestamp) as reported_at,
    cast(dispatched_at as timestamp) as dispatched_at,
    cast(closed_at as timestamp) as closed_at,
    status,
    cast(satisfaction as integer) as satisfaction,
    cast(updated_at as timestamp) as updated_at
from {{ source('lake', 'governance_cases') }}
