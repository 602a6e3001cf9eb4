-- One row per case and level of 1+6+N its dispatch orders sent it to (案件在各层级的停留):
-- when it reached the level (its first order there), when that level first accepted it,
-- when it left (the first order at a higher level: an escalation; or the case's close)
-- and the working hours it spent there, up to the end of the logical date while it is
-- still there. Working hours are those of the escalation policy
-- (civiclake/reference/dispatch/escalation.yaml, working_hours — a unit test keeps the two
-- equal) on the working days of int_calendar_days (holidays off, adjusted working days on).
-- Cases without any order (dispatched before orders existed) have no stay.
-- depends_on: {{ ref('stg_governance__case_events') }}
{%- set working_periods = [('09:00', '12:00'), ('14:00', '18:00')] %}
with bounds as (
    select
        {{ as_of_date() }} as last_day,
        cast({{ add_days(as_of_date(), 1) }} as timestamp) as checked_until
),

orders as (
    select orders.*
    from {{ ref('int_dispatch_orders') }} as orders
    cross join bounds
    where orders.issued_at < bounds.checked_until
),

entries as (
    select
        orders.case_id,
        orders.level,
        case orders.level when 'community' then 1 when 'street' then 2 else 3 end as level_rank,
        min(orders.issued_at) as entered_at,
        min(case when orders.accepted_at < bounds.checked_until then orders.accepted_at end) as accepted_at
    from orders
    cross join bounds
    group by orders.case_id, orders.level
),

stays as (
    select
        entries.*,
        min(entered_at) over (
            partition by case_id order by level_rank rows between 1 following and unbounded following
        ) as escalated_at
    from entries
),

left_levels as (
    select
        stays.case_id,
        stays.level,
        stays.level_rank,
        stays.entered_at,
        stays.accepted_at,
        stays.escalated_at,
        case
            when stays.escalated_at is null
                and cases.status = 'closed'
                and cases.closed_at >= stays.entered_at
                and cases.closed_at < bounds.checked_until
                then cases.closed_at
        end as closed_at,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cases.category_code,
        bounds.checked_until
    from stays
    cross join bounds
    inner join {{ ref('stg_governance__cases') }} as cases on cases.case_id = stays.case_id
),

spans as (
    select
        left_levels.*,
        coalesce(escalated_at, closed_at) as left_at,
        case
            when escalated_at is not null then 'escalated'
            when closed_at is not null then 'closed'
        end as left_by,
        coalesce(escalated_at, closed_at, checked_until) as counted_until
    from left_levels
),

periods as (
    {%- for start, end in working_periods %}
    select
        {{ start[:2] | int * 60 + start[3:] | int }} as start_minute,
        {{ end[:2] | int * 60 + end[3:] | int }} as end_minute
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

working_periods as (
    select
        calendar.calendar_date,
        {{ add_microseconds('cast(calendar.calendar_date as timestamp)', 'cast(periods.start_minute as bigint) * 60000000') }}
            as period_start,
        {{ add_microseconds('cast(calendar.calendar_date as timestamp)', 'cast(periods.end_minute as bigint) * 60000000') }}
            as period_end
    from {{ ref('int_calendar_days') }} as calendar
    cross join periods
    cross join bounds
    where calendar.is_working_day
        and calendar.calendar_date <= bounds.last_day
        and calendar.calendar_date >= (select cast(min(entered_at) as date) from spans)
),

worked as (
    select
        spans.case_id,
        spans.level,
        sum({{ microseconds_between(
            'greatest(spans.entered_at, working_periods.period_start)',
            'least(spans.counted_until, working_periods.period_end)'
        ) }}) / 3600000000.0 as working_hours
    from spans
    inner join working_periods
        on working_periods.period_end > spans.entered_at
        and working_periods.period_start < spans.counted_until
    group by spans.case_id, spans.level
)

select
    spans.case_id,
    spans.level,
    spans.district_code,
    spans.street_code,
    spans.community_code,
    spans.category_code,
    spans.entered_at,
    spans.accepted_at,
    spans.left_at,
    spans.left_by,
    cast(coalesce(worked.working_hours, 0) as double) as working_hours_at_level
from spans
left join worked on worked.case_id = spans.case_id and worked.level = spans.level
