select
    asset_id,
    cover_type,
    district_code,
    street_code,
    community_code,
    grid_code,
    owner_department,
    owner_known,
    status as cover_status,
    installed_on
from {{ source('city', 'city_manhole_covers') }}
