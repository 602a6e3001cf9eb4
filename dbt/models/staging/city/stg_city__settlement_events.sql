select
    event_id,
    repair_id,
    asset_id,
    district_code,
    street_code,
    community_code,
    step,
    from_status,
    to_status,
    owner,
    cast(amount_yuan as double) as amount_yuan,
    actor,
    {{ local_timestamp('occurred_at') }} as occurred_at
from {{ source('city', 'city_settlement_events') }}
