select
    household_id,
    community_code,
    grid_code,
    elderly_living_alone,
    has_disabled_member,
    child_in_difficulty,
    low_income,
    head_id_token,
    valid_from,
    valid_to,
    is_current,
    is_deleted
from {{ source('resources', 'resources_households') }}
