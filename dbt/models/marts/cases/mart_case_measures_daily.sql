-- The case measures of 1+6+N per day and area (district, each street, each community),
-- each computed the same way at every level: counts are sums over the area's cases,
-- medians and p90s are taken over the area's cases (never averaged from below), rates
-- are ratios of the area's counts (the SLA rates: macros/sla_rates.sql).
-- depends_on: {{ ref('stg_governance__case_events') }}
with case_days as (
    select * from {{ ref('int_case_days') }} where report_date <= {{ as_of_date() }}
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
    select * from {{ ref('int_cases_joined_to_dispatch') }} where reported_date <= {{ as_of_date() }}
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
    select * from cases where closed_date <= {{ as_of_date() }} and satisfaction is not null
),

satisfaction as (
    {% set satisfaction_aggregates %}
    count(*) as satisfaction_ratings,
    sum(satisfaction) as satisfaction_points
    {% endset %}
    {{ rollup_by_level('rated', 'closed_date', satisfaction_aggregates) }}
),

-- The SLA counts of every category together.
deadlines as (
    select
        report_date,
        level,
        area_code,
        sum(response_due) as response_due,
        sum(responded_on_time) as responded_on_time,
        sum(resolve_due) as resolve_due,
        sum(resolved_on_time) as resolved_on_time
    from {{ ref('int_case_deadlines_by_area_daily') }}
    group by report_date, level, area_code
),

counts as (
    select
        {{ area_day_columns('area_days') }},
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
        cast(coalesce(deadlines.response_due, 0) as bigint) as response_due,
        cast(coalesce(deadlines.responded_on_time, 0) as bigint) as responded_on_time,
        cast(coalesce(deadlines.resolve_due, 0) as bigint) as resolve_due,
        cast(coalesce(deadlines.resolved_on_time, 0) as bigint) as resolved_on_time,
        cast(coalesce(satisfaction.satisfaction_ratings, 0) as bigint) as satisfaction_ratings,
        cast(coalesce(satisfaction.satisfaction_points, 0) as bigint) as satisfaction_points,
        cast(coalesce(dispatch.dispatched_automatically, 0) as bigint) as dispatched_automatically,
        cast(coalesce(dispatch.dispatched_by_reviewer, 0) as bigint) as dispatched_by_reviewer,
        cast(coalesce(dispatch.linked_as_duplicate, 0) as bigint) as linked_as_duplicate,
        cast(flows.median_hours_to_dispatch as double) as median_hours_to_dispatch,
        cast(flows.p90_hours_to_dispatch as double) as p90_hours_to_dispatch,
        cast(flows.median_hours_to_close as double) as median_hours_to_close,
        cast(flows.p90_hours_to_close as double) as p90_hours_to_close
    {{ from_area_days(['flows', 'dispatch', 'satisfaction', 'deadlines']) }}
)

select
    counts.*,
    {{ response_rate() }} as response_rate,
    {{ on_time_rate() }} as on_time_rate,
    cast(closures_after_feedback as double) / nullif(closures, 0) as feedback_rate,
    cast(reopens as double) / nullif(closures, 0) as reopen_rate,
    cast(returns_for_rework as double) / nullif(handlings, 0) as rework_rate,
    cast(transfers as double) / nullif(dispatches, 0) as transfer_rate,
    cast(satisfaction_points as double) / nullif(satisfaction_ratings, 0) as satisfaction_avg,
    cast(dispatched_automatically as double) / nullif(dispatched_automatically + dispatched_by_reviewer, 0)
        as auto_dispatch_share
from counts
