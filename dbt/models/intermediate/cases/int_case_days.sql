{{
    config(
        materialized='incremental',
        incremental_strategy=day_replace_strategy(),
        unique_key='report_date',
        partition_by=['report_date'] if target.type == 'spark' else none,
        on_schema_change='fail'
    )
}}
-- One row per case and day on which the case was open at some moment: what happened to
-- it that day and how it stood at the end of the day. Built from the status history
-- only (append-only), so a day's rows never depend on anything later than that day.
-- A closed case has no rows after the day it closed, until it is reopened.
-- Incremental: a run recomputes the days from `case_days_lookback_days` before the
-- logical date up to it and replaces them whole; a full refresh computes every day.
-- depends_on: {{ ref('stg_governance__case_events') }}
{#- Each count of the day's lifecycle events: its column, and the events it counts. -#}
{%- set event_counts = [
    ('created_events', "event_type = 'created'"),
    ('dispatch_events', "event_type = 'dispatched'"),
    ('transfer_events', "event_type = 'transferred'"),
    ('accept_events', "event_type = 'accepted'"),
    ('handle_events', "event_type = 'handled'"),
    ('return_events', "event_type = 'returned'"),
    ('feedback_events', "event_type = 'fed_back'"),
    ('close_events', "event_type = 'closed'"),
    ('closes_after_feedback', "event_type = 'closed' and previous_event_type = 'fed_back'"),
    ('reopen_events', "event_type = 'reopened'"),
] %}
with bounds as (
    select
        {{ as_of_date() }} as last_day,
        {% if is_incremental() -%}
        {{ add_days(as_of_date(), -var('case_days_lookback_days', 3)) }} as first_day
        {%- else -%}
        cast('1900-01-01' as date) as first_day
        {%- endif %}
),

events as (
    select
        events.case_id,
        events.seq,
        events.event_type,
        events.occurred_at,
        cast(events.occurred_at as date) as event_date,
        lag(events.event_type) over (partition by events.case_id order by events.seq) as previous_event_type
    from {{ ref('stg_governance__case_events') }} as events
    cross join bounds
    where cast(events.occurred_at as date) <= bounds.last_day
),

first_dispatch as (
    select case_id, min(occurred_at) as first_dispatched_at
    from events
    where event_type = 'dispatched'
    group by case_id
),

daily as (
    select
        case_id,
        event_date,
        max_by(event_type, seq) as status_end_of_day,
        {%- for column, counted in event_counts %}
        sum(case when {{ counted }} then 1 else 0 end) as {{ column }},
        {%- endfor %}
        max(case when event_type = 'closed' then occurred_at end) as last_closed_at
    from events
    group by case_id, event_date
),

states as (
    select
        daily.*,
        lead(event_date) over (partition by case_id order by event_date) as next_event_date
    from daily
),

expanded as (
    select states.*, days.day as report_date
    from states
    cross join bounds
    inner join {{ ref('int_days') }} as days
        on days.day >= states.event_date
        and days.day < coalesce(states.next_event_date, {{ add_days('bounds.last_day', 1) }})
        and (states.status_end_of_day <> 'closed' or days.day = states.event_date)
    where days.day >= bounds.first_day and days.day <= bounds.last_day
)

select
    expanded.report_date,
    expanded.case_id,
    cases.district_code,
    cases.street_code,
    cases.community_code,
    cases.category_code,
    cases.channel_code,
    expanded.status_end_of_day,
    expanded.status_end_of_day <> 'closed' as is_open_end_of_day,
    expanded.status_end_of_day <> 'closed'
        and deadlines.resolve_deadline_at < cast({{ add_days('expanded.report_date', 1) }} as timestamp)
        as is_overdue_end_of_day,
    {%- for column, counted in event_counts %}
    cast(case when expanded.report_date = expanded.event_date then expanded.{{ column }} else 0 end as integer)
        as {{ column }},
    {%- endfor %}
    case
        when cast(first_dispatch.first_dispatched_at as date) = expanded.report_date
            then {{ hours_between('cases.reported_at', 'first_dispatch.first_dispatched_at') }}
    end as hours_to_first_dispatch,
    case
        when expanded.report_date = expanded.event_date and expanded.last_closed_at is not null
            then {{ hours_between('cases.reported_at', 'expanded.last_closed_at') }}
    end as hours_to_close
from expanded
inner join {{ ref('stg_governance__cases') }} as cases on cases.case_id = expanded.case_id
inner join {{ ref('int_case_deadlines') }} as deadlines on deadlines.case_id = expanded.case_id
left join first_dispatch on first_dispatch.case_id = expanded.case_id
