-- Every order the platform issued (its outbox: known at once), with the state the
-- governance system last reported for it (acceptance, superseded), which arrives a run
-- later. An order the governance system holds but the outbox lacks (an outbox rebuilt
-- from scratch) still counts: the operational system is the record of what departments got.
-- A joint operation's orders (kind operation, case_id an operation id) and their escalations
-- are not about a case: they are left out here and followed in mart_operation_orders.
with issued as (
    select * from {{ ref('stg_dispatch__outbox_orders') }}
),

reported as (
    select * from {{ ref('stg_governance__dispatch_orders') }}
),

operations as (
    select operation_id from {{ ref('stg_operations__operations') }}
)

select
    coalesce(issued.order_id, reported.order_id) as order_id,
    coalesce(issued.case_id, reported.case_id) as case_id,
    coalesce(issued.kind, reported.kind) as kind,
    coalesce(issued.level, reported.level) as level,
    coalesce(issued.department, reported.department) as department,
    coalesce(issued.team, reported.team) as team,
    coalesce(issued.reason, reported.reason) as reason,
    coalesce(issued.previous_order_id, reported.previous_order_id) as previous_order_id,
    coalesce(issued.issued_at, reported.issued_at) as issued_at,
    reported.accepted_at,
    coalesce(reported.status, 'issued') as status,
    coalesce(reported.updated_at, issued.issued_at) as updated_at
from issued
full outer join reported on issued.order_id = reported.order_id
where coalesce(issued.kind, reported.kind) <> 'operation'
    and coalesce(issued.case_id, reported.case_id) not in (select operation_id from operations)
