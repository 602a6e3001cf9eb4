select
    activity_id,
    org_id,
    activity_type,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('held_at') }} as held_at,
    cast(planned_attendance as bigint) as planned_attendance,
    is_deleted
from {{ source('party', 'party_activities') }}
