-- One row per order of a joint operation (联合行动指令) started by the end of the logical date,
-- where it stands then: completed (the department reported it done), escalated (late and not
-- done, and the level above has been sent the escalation), overdue (past its due time, not
-- done, nobody above told yet), accepted, or issued (also while the governance system's answer
-- has not reached the lake). Mirrors civiclake/operations/follow.py, which escalates from the
-- same states at the close of each day. Times are Shenzhen wall-clock time.
-- depends_on: {{ ref('stg_governance__case_events') }}
with day_end as (
    select
        {{ as_of_date() }} as as_of_date,
        cast({{ add_days(as_of_date(), 1) }} as timestamp) as day_end
),

operations as (
    select operations.*
    from {{ ref('stg_operations__operations') }} as operations
    cross join day_end
    where operations.started_at < day_end.day_end
),

reported as (
    select order_id, accepted_at, completed_at
    from {{ ref('stg_governance__dispatch_orders') }}
    where kind = 'operation'
),

delivered as (
    select order_id, is_delivered
    from {{ ref('stg_dispatch__outbox_orders') }}
    where kind = 'operation'
),

-- The first escalation of each operation order issued by the end of the day.
escalations as (
    select order_id, previous_order_id, issued_at, department, level
    from (
        select
            outbox.order_id,
            outbox.previous_order_id,
            outbox.issued_at,
            outbox.department,
            outbox.level,
            row_number() over (
                partition by outbox.previous_order_id order by outbox.issued_at, outbox.order_id
            ) as nth
        from {{ ref('stg_dispatch__outbox_orders') }} as outbox
        inner join operations on outbox.case_id = operations.operation_id
        cross join day_end
        where outbox.kind = 'escalation' and outbox.issued_at < day_end.day_end
    ) as ranked
    where nth = 1
),

orders as (
    select
        tasks.order_id,
        tasks.operation_id,
        operations.plan_id,
        operations.plan_name,
        operations.area_level,
        operations.area_code,
        operations.district_code,
        operations.street_code,
        operations.community_code,
        tasks.task_index,
        tasks.department,
        tasks.task,
        operations.started_at as issued_at,
        tasks.due_at,
        -- What happened after the day has not happened yet as of it.
        case when reported.accepted_at < day_end.day_end then reported.accepted_at end as accepted_at,
        case when reported.completed_at < day_end.day_end then reported.completed_at end as completed_at,
        coalesce(delivered.is_delivered, false) as is_delivered,
        escalations.order_id as escalation_order_id,
        escalations.issued_at as escalated_at,
        escalations.department as escalation_department,
        escalations.level as escalation_level,
        tasks.due_at < day_end.day_end as is_past_due,
        day_end.as_of_date
    from {{ ref('stg_operations__tasks') }} as tasks
    inner join operations on tasks.operation_id = operations.operation_id
    cross join day_end
    left join reported on tasks.order_id = reported.order_id
    left join delivered on tasks.order_id = delivered.order_id
    left join escalations on tasks.order_id = escalations.previous_order_id
),

stated as (
    select
        *,
        case
            when completed_at is not null then 'completed'
            when escalation_order_id is not null then 'escalated'
            when is_past_due then 'overdue'
            when accepted_at is not null then 'accepted'
            else 'issued'
        end as order_state,
        coalesce(completed_at > due_at, false) or (completed_at is null and is_past_due) as is_late
    from orders
)

select
    order_id,
    operation_id,
    plan_id,
    plan_name,
    area_level,
    area_code,
    district_code,
    street_code,
    community_code,
    cast(task_index as integer) as task_index,
    department,
    task,
    issued_at,
    due_at,
    accepted_at,
    completed_at,
    order_state,
    case order_state
        when 'completed' then '已完成'
        when 'escalated' then '超时已升级'
        when 'overdue' then '超时'
        when 'accepted' then '已签收'
        else '已下达'
    end as order_state_zh,
    cast(is_late as boolean) as is_late,
    cast(is_delivered as boolean) as is_delivered,
    escalation_order_id,
    escalated_at,
    escalation_level,
    escalation_department,
    case
        when completed_at is not null
            then cast({{ microseconds_between('issued_at', 'completed_at') }} / 60000000.0 as double)
    end as minutes_to_complete,
    as_of_date
from stated
