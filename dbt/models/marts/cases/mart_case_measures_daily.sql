-- The case measures of 1+6+N per day and area (district, each street, each community),
-- each computed the same way at every level: counts are sums over the area's cases,
-- medians and p90s are taken over the area's cases (never averaged from below), rates
-- are ratios of the area's counts.
-- depends_on: {{ ref('stg_lake__governance_case_events') }}
with as_of as (
    select {{ as_of_date() }} as as_of_day
),

case_days as (
    select case_days.*
    from {{ ref('int_case_days') }} as case_days
    cross join as_of
    where case_days.report_date <= as_of.as_of_day
),

flows as (
    {% set flow_aggregates %}
    sum(created_events) as cases_reported,
    sum(case when hours_to_first_dispatch is not null then 1 else 0 end) as cases_dispatched,
    sum(dispatch_events) as dispatches,
    sum(transfer_events) as transfers,
    sum(accept_events) as acceptances,
    sum(handle_events) as handlings,
    sum(return_events) as returns_for_rework,
    sum(close_events) as closures,
    sum(closes_after_feedback) as closures_after_feedback,
    sum(reopen_events) as reopens,
    sum(case when is_open_end_of_day then 1 else 0 end) as backlog_open,
    sum(case when is_overdue_end_of_day then 1 else 0 end) as overdue_open,
    {{ percentile_cont('hours_to_first_dispatch', 0.5) }} as median_hours_to_dispatch,
    {{ percentile_cont('hours_to_first_dispatch', 0.9) }} as p90_hours_to_dispatch,
    {{ percentile_cont('hours_to_close', 0.5) }} as median_hours_to_close,
    {{ percentile_cont('hours_to_close', 0.9) }} as p90_hours_to_close
    {% endset %}
    {{ rollup_by_level('case_days', 'report_date', flow_aggregates) }}
),

cases as (
    select cases.*
    from {{ ref('int_cases_joined_to_dispatch') }} as cases
    cross join as_of
    where cases.reported_date <= as_of.as_of_day
),

dispatch as (
    {% set dispatch_aggregates %}
    sum(case when dispatch_mode = 'auto' then 1 else 0 end) as dispatched_automatically,
    sum(case when dispatch_mode = 'review' then 1 else 0 end) as dispatched_by_reviewer,
    sum(case when dispatch_mode = 'duplicate' then 1 else 0 end) as linked_as_duplicate
    {% endset %}
    {{ rollup_by_level('cases', 'reported_date', dispatch_aggregates) }}
),

rated as (
    select cases.*
    from cases
    cross join as_of
    where cases.closed_date <= as_of.as_of_day and cases.satisfaction is not null
),

satisfaction as (
    {% set satisfaction_aggregates %}
    count(*) as satisfaction_ratings,
    sum(satisfaction) as satisfaction_points
    {% endset %}
    {{ rollup_by_level('rated', 'closed_date', satisfaction_aggregates) }}
),

response_cohort as (
    select * from {{ ref('int_case_deadlines') }} where responded_on_time is not null
),

resolve_cohort as (
    select * from {{ ref('int_case_deadlines') }} where resolved_on_time is not null
),

response_due as (
    {% set response_aggregates %}
    count(*) as response_due,
    sum(case when responded_on_time then 1 else 0 end) as responded_on_time
    {% endset %}
    {{ rollup_by_level('response_cohort', 'response_deadline_date', response_aggregates) }}
),

resolve_due as (
    {% set resolve_aggregates %}
    count(*) as resolve_due,
    sum(case when resolved_on_time then 1 else 0 end) as resolved_on_time
    {% endset %}
    {{ rollup_by_level('resolve_cohort', 'resolve_deadline_date', resolve_aggregates) }}
),

counts as (
    select
        area_days.report_date,
        area_days.level,
        area_days.area_code,
        area_days.area_name,
        area_days.parent_code,
        area_days.street_code,
        area_days.community_code,
        cast(coalesce(flows.cases_reported, 0) as bigint) as cases_reported,
        cast(coalesce(flows.cases_dispatched, 0) as bigint) as cases_dispatched,
        cast(coalesce(flows.dispatches, 0) as bigint) as dispatches,
        cast(coalesce(flows.transfers, 0) as bigint) as transfers,
        cast(coalesce(flows.acceptances, 0) as bigint) as acceptances,
        cast(coalesce(flows.handlings, 0) as bigint) as handlings,
        cast(coalesce(flows.returns_for_rework, 0) as bigint) as returns_for_rework,
        cast(coalesce(flows.closures, 0) as bigint) as closures,
        cast(coalesce(flows.closures_after_feedback, 0) as bigint) as closures_after_feedback,
        cast(coalesce(flows.reopens, 0) as bigint) as reopens,
        cast(coalesce(flows.backlog_open, 0) as bigint) as backlog_open,
        cast(coalesce(flows.overdue_open, 0) as bigint) as overdue_open,
        cast(coalesce(response_due.response_due, 0) as bigint) as response_due,
        cast(coalesce(response_due.responded_on_time, 0) as bigint) as responded_on_time,
        cast(coalesce(resolve_due.resolve_due, 0) as bigint) as resolve_due,
        cast(coalesce(resolve_due.resolved_on_time, 0) as bigint) as resolved_on_time,
        cast(coalesce(satisfaction.satisfaction_ratings, 0) as bigint) as satisfaction_ratings,
        cast(coalesce(satisfaction.satisfaction_points, 0) as bigint) as satisfaction_points,
        cast(coalesce(dispatch.dispatched_automatically, 0) as bigint) as dispatched_automatically,
        cast(coalesce(dispatch.dispatched_by_reviewer, 0) as bigint) as dispatched_by_reviewer,
        cast(coalesce(dispatch.linked_as_duplicate, 0) as bigint) as linked_as_duplicate,
        cast(flows.median_hours_to_dispatch as double) as median_hours_to_dispatch,
        cast(flows.p90_hours_to_dispatch as double) as p90_hours_to_dispatch,
        cast(flows.median_hours_to_close as double) as median_hours_to_close,
        cast(flows.p90_hours_to_close as double) as p90_hours_to_close
    from {{ ref('int_area_days') }} as area_days
    left join flows
        on flows.report_date = area_days.report_date and flows.level = area_days.level
        and flows.area_code = area_days.area_code
    left join dispatch
        on dispatch.report_date = area_days.report_date and dispatch.level = area_days.level
        and dispatch.area_code = area_days.area_code
    left join satisfaction
        on satisfaction.report_date = area_days.report_date and satisfaction.level = area_days.level
        and satisfaction.area_code = area_days.area_code
    left join response_due
        on response_due.report_date = area_days.report_date and response_due.level = area_days.level
        and response_due.area_code = area_days.area_code
    left join resolve_due
        on resolve_due.report_date = area_days.report_date and resolve_due.level = area_days.level
        and resolve_due.area_code = area_days.area_code
)

select
    counts.*,
    cast(responded_on_time as double) / nullif(response_due, 0) as response_rate,
    cast(resolved_on_time as double) / nullif(resolve_due, 0) as on_time_rate,
    cast(closures_after_feedback as double) / nullif(closures, 0) as feedback_rate,
    cast(reopens as double) / nullif(closures, 0) as reopen_rate,
    cast(returns_for_rework as double) / nullif(handlings, 0) as rework_rate,
    cast(transfers as double) / nullif(dispatches, 0) as transfer_rate,
    cast(satisfaction_points as double) / nullif(satisfaction_ratings, 0) as satisfaction_avg,
    cast(dispatched_automatically as double) / nullif(dispatched_automatically + dispatched_by_reviewer, 0)
        as auto_dispatch_share
from counts
