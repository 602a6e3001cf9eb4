select
    event_id,
    case_id,
    cast(seq as integer) as seq,
    event_type,
    department,
    {{ local_timestamp('occurred_at') }} as occurred_at,
    {{ local_timestamp('recorded_at') }} as recorded_at
from {{ source('governance', 'governance_case_events') }}
