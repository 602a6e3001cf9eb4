select
    team_id,
    team_type,
    street_code,
    community_code,
    cast(member_count as bigint) as member_count,
    valid_from,
    valid_to,
    is_current,
    is_deleted
from {{ source('resources', 'resources_teams') }}
