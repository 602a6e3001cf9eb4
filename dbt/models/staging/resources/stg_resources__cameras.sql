select
    camera_id,
    community_code,
    grid_code,
    cast(lon as double) as lon,
    cast(lat as double) as lat,
    camera_type,
    owner_department,
    status as camera_status,
    valid_from,
    valid_to,
    is_current,
    is_deleted
from {{ source('resources', 'resources_cameras') }}
