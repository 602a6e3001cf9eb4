select
    vehicle_id,
    vehicle_type,
    street_code,
    status as vehicle_status,
    energy,
    valid_from,
    valid_to,
    is_current,
    is_deleted
from {{ source('resources', 'resources_vehicles') }}
