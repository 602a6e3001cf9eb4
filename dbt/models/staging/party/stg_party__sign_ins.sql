select
    sign_in_id,
    activity_id,
    member_id,
    {{ local_timestamp('signed_in_at') }} as signed_in_at,
    method as sign_in_method,
    is_deleted
from {{ source('party', 'party_attendance') }}
