select
    service_id,
    is_party_member,
    service_type,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('started_at') }} as started_at,
    cast(hours as double) as hours,
    is_deleted
from {{ source('party', 'party_volunteer_services') }}
