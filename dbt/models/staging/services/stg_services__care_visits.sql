select
    visit_id,
    household_id_token,
    care_category,
    district_code,
    street_code,
    community_code,
    worker_id,
    visit_kind,
    {{ local_timestamp('visited_at') }} as visited_at,
    need,
    follow_up,
    is_deleted
from {{ source('services', 'services_care_visits') }}
