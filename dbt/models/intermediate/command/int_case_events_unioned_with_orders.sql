-- The status history of every case with its dispatch orders in it: the governance
-- system's lifecycle events, and for each order delivered to it the order's issue (as
-- `dispatched`, `transferred` or `escalated`, at the order's level) and, once the
-- department took it, its acceptance (`accepted`). An escalation is thus an event in the
-- case's history, at the level it sent the case to. `event_seq` orders a case's events by
-- time; at the same instant the case history's own event comes first.
with case_events as (
    select
        case_id,
        'case_history' as event_source,
        event_type,
        cast(null as string) as level,
        department,
        cast(null as string) as order_id,
        cast(null as string) as reason,
        occurred_at,
        0 as source_rank,
        seq as source_seq
    from {{ ref('stg_governance__case_events') }}
),

order_issues as (
    select
        case_id,
        'dispatch_order' as event_source,
        case kind
            when 'dispatch' then 'dispatched'
            when 'transfer' then 'transferred'
            when 'escalation' then 'escalated'
        end as event_type,
        level,
        department,
        order_id,
        reason,
        issued_at as occurred_at,
        1 as source_rank,
        0 as source_seq
    from {{ ref('int_dispatch_orders') }}
),

order_acceptances as (
    select
        case_id,
        'dispatch_order' as event_source,
        'accepted' as event_type,
        level,
        department,
        order_id,
        cast(null as string) as reason,
        accepted_at as occurred_at,
        1 as source_rank,
        1 as source_seq
    from {{ ref('int_dispatch_orders') }}
    where accepted_at is not null
),

unioned as (
    select * from case_events
    union all
    select * from order_issues
    union all
    select * from order_acceptances
)

select
    case_id,
    cast(row_number() over (
        partition by case_id order by occurred_at, source_rank, source_seq, order_id
    ) as integer) as event_seq,
    event_source,
    event_type,
    level,
    department,
    order_id,
    reason,
    occurred_at
from unioned
