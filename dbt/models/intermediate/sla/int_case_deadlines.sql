-- Each case's two deadlines and whether it met them.
--   response deadline: reported_at + the category's response hours (calendar hours);
--   met when the case was first accepted at or before it (有呼必应).
--   resolution deadline: the category's SLA days after the report, in calendar days
--   (same clock time N days later) or in working days (same clock time on the N-th
--   working day after the report day: weekends and holidays skipped, adjusted working
--   Saturdays counted); met when the case stood closed at that moment (a case closed
--   exactly at the deadline is on time; one still open, or reopened, is late).
-- Outcomes are only given once the deadline's day is not after the logical date.
-- A working-day deadline outside the working-day calendar (int_calendar_days, from the
-- seed cn_public_holidays) cannot be counted: the model fails, naming the case and the
-- seed to extend, rather than give the case no deadline.
-- depends_on: {{ ref('stg_governance__case_events') }}
with cases as (
    select
        cases.case_id,
        cases.category_code,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cases.reported_at,
        cast(cases.reported_at as date) as reported_date,
        rules.day_basis,
        rules.response_hours,
        categories.sla_days
    from {{ ref('stg_governance__cases') }} as cases
    inner join {{ ref('stg_reference__categories') }} as categories on categories.category_code = cases.category_code
    inner join {{ ref('case_sla_rules') }} as rules on rules.category_code = cases.category_code
),

working_day_targets as (
    select cases.case_id, target_day.calendar_date as deadline_day
    from cases
    inner join {{ ref('int_calendar_days') }} as report_day on report_day.calendar_date = cases.reported_date
    inner join {{ ref('int_calendar_days') }} as target_day
        on target_day.working_day_seq = report_day.working_day_seq + cases.sla_days
        and target_day.is_working_day
    where cases.day_basis = 'working'
),

calendar_span as (
    select min(calendar_date) as first_day, max(calendar_date) as last_day
    from {{ ref('int_calendar_days') }}
),

deadlines as (
    select
        cases.*,
        {{ add_microseconds('cases.reported_at', 'cases.response_hours * 3600000000') }} as response_deadline_at,
        case
            when cases.day_basis = 'calendar'
                then {{ add_microseconds('cases.reported_at', 'cases.sla_days * 86400000000') }}
            when working_day_targets.deadline_day is null
                then {{ fail_with(
                    "'int_case_deadlines: case ' || cases.case_id || ' reported on '"
                    ~ " || cast(cases.reported_date as string) || ' is due ' || cast(cases.sla_days as string)"
                    ~ " || ' working days later, outside the working-day calendar ('"
                    ~ " || cast(calendar_span.first_day as string) || ' to ' || cast(calendar_span.last_day as string)"
                    ~ " || '). Extend the seed dbt/seeds/cn_public_holidays.csv with the State Council'"
                    ~ " || ' holiday notices of the missing years: the calendar runs from the first year'"
                    ~ " || ' in the seed to the end of the year after the last.'"
                ) }}
            else {{ add_microseconds(
                'cast(working_day_targets.deadline_day as timestamp)',
                microseconds_between('cast(cases.reported_date as timestamp)', 'cases.reported_at')
            ) }}
        end as resolve_deadline_at
    from cases
    cross join calendar_span
    left join working_day_targets on working_day_targets.case_id = cases.case_id
),

accepted as (
    select events.case_id, min(events.occurred_at) as first_accepted_at
    from {{ ref('stg_governance__case_events') }} as events
    where events.event_type = 'accepted'
    group by events.case_id
),

status_at_deadline as (
    select deadlines.case_id, max_by(events.event_type, events.seq) as status_at_resolve_deadline
    from deadlines
    inner join {{ ref('stg_governance__case_events') }} as events
        on events.case_id = deadlines.case_id and events.occurred_at <= deadlines.resolve_deadline_at
    group by deadlines.case_id
),

as_of as (
    select {{ as_of_date() }} as as_of_day
)

select
    deadlines.case_id,
    deadlines.category_code,
    deadlines.district_code,
    deadlines.street_code,
    deadlines.community_code,
    deadlines.reported_at,
    deadlines.day_basis,
    deadlines.sla_days,
    deadlines.response_hours,
    deadlines.response_deadline_at,
    cast(deadlines.response_deadline_at as date) as response_deadline_date,
    deadlines.resolve_deadline_at,
    cast(deadlines.resolve_deadline_at as date) as resolve_deadline_date,
    accepted.first_accepted_at,
    case
        when cast(deadlines.response_deadline_at as date) > as_of.as_of_day then null
        else coalesce(accepted.first_accepted_at <= deadlines.response_deadline_at, false)
    end as responded_on_time,
    case
        when cast(deadlines.resolve_deadline_at as date) > as_of.as_of_day then null
        else coalesce(status_at_deadline.status_at_resolve_deadline = 'closed', false)
    end as resolved_on_time
from deadlines
cross join as_of
left join accepted on accepted.case_id = deadlines.case_id
left join status_at_deadline on status_at_deadline.case_id = deadlines.case_id
