select
    org_id,
    org_type,
    parent_org_id,
    district_code,
    street_code,
    community_code,
    established_on,
    is_deleted,
    batch_date
from {{ source('party', 'party_organisations') }}
