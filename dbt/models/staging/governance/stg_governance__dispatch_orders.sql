select
    order_id,
    case_id,
    kind,
    level,
    department,
    team,
    reason,
    previous_order_id,
    {{ local_timestamp('issued_at') }} as issued_at,
    {{ local_timestamp('accepted_at') }} as accepted_at,
    {{ local_timestamp('completed_at') }} as completed_at,
    status,
    {{ local_timestamp('updated_at') }} as updated_at
from {{ source('governance', 'governance_dispatch_orders') }}
