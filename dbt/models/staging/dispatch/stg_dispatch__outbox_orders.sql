-- The orders as the platform issued them; acceptance comes from the governance system
-- (stg_governance__dispatch_orders), which reports it a run later.
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
    delivered_at is not null as is_delivered
from {{ source('dispatch', 'dispatch_outbox') }}
