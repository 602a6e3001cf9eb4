select
    member_id,
    org_id,
    district_code,
    street_code,
    community_code,
    status as member_status,
    joined_on,
    is_deleted,
    batch_date
from {{ source('party', 'party_members') }}
