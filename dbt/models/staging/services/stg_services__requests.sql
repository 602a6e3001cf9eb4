select
    request_id,
    channel as request_channel,
    request_type,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('submitted_at') }} as submitted_at,
    status as request_status,
    {{ local_timestamp('completed_at') }} as completed_at,
    is_deleted
from {{ source('services', 'services_requests') }}
