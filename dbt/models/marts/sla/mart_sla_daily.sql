-- SLA by day, area of every level and category: the cases whose response or resolution
-- deadline fell on the day and how many met it (a case still open at its deadline is
-- late), and the open cases already past their deadline at the end of the day.
-- depends_on: {{ ref('stg_lake__governance_case_events') }}
with as_of as (
    select {{ as_of_date() }} as as_of_day
),

response_cohort as (
    select * from {{ ref('int_case_deadlines') }} where responded_on_time is not null
),

resolve_cohort as (
    select * from {{ ref('int_case_deadlines') }} where resolved_on_time is not null
),

overdue as (
    select case_days.*
    from {{ ref('int_case_days') }} as case_days
    cross join as_of
    where case_days.report_date <= as_of.as_of_day and case_days.is_overdue_end_of_day
),

response as (
    {{ rollup_by_level(
        'response_cohort', 'response_deadline_date',
        'count(*) as response_due, sum(case when responded_on_time then 1 else 0 end) as responded_on_time',
        by=['category_code']
    ) }}
),

resolve as (
    {{ rollup_by_level(
        'resolve_cohort', 'resolve_deadline_date',
        'count(*) as resolve_due, sum(case when resolved_on_time then 1 else 0 end) as resolved_on_time',
        by=['category_code']
    ) }}
),

open_overdue as (
    {{ rollup_by_level('overdue', 'report_date', 'count(*) as overdue_open', by=['category_code']) }}
),

keys as (
    select report_date, level, area_code, category_code from response
    union
    select report_date, level, area_code, category_code from resolve
    union
    select report_date, level, area_code, category_code from open_overdue
),

counts as (
    select
        keys.report_date,
        keys.level,
        keys.area_code,
        areas.area_name,
        areas.parent_code,
        areas.street_code,
        areas.community_code,
        keys.category_code,
        categories.category_name,
        rules.day_basis,
        categories.sla_days,
        rules.response_hours,
        cast(coalesce(response.response_due, 0) as bigint) as response_due,
        cast(coalesce(response.responded_on_time, 0) as bigint) as responded_on_time,
        cast(coalesce(resolve.resolve_due, 0) as bigint) as resolve_due,
        cast(coalesce(resolve.resolved_on_time, 0) as bigint) as resolved_on_time,
        cast(coalesce(open_overdue.overdue_open, 0) as bigint) as overdue_open
    from keys
    inner join {{ ref('int_areas') }} as areas on areas.level = keys.level and areas.area_code = keys.area_code
    left join {{ ref('stg_lake__categories') }} as categories on categories.category_code = keys.category_code
    left join {{ ref('case_sla_rules') }} as rules on rules.category_code = keys.category_code
    left join response
        on response.report_date = keys.report_date and response.level = keys.level
        and response.area_code = keys.area_code and response.category_code = keys.category_code
    left join resolve
        on resolve.report_date = keys.report_date and resolve.level = keys.level
        and resolve.area_code = keys.area_code and resolve.category_code = keys.category_code
    left join open_overdue
        on open_overdue.report_date = keys.report_date and open_overdue.level = keys.level
        and open_overdue.area_code = keys.area_code and open_overdue.category_code = keys.category_code
)

select
    counts.*,
    cast(resolve_due - resolved_on_time as bigint) as resolved_late,
    cast(responded_on_time as double) / nullif(response_due, 0) as response_rate,
    cast(resolved_on_time as double) / nullif(resolve_due, 0) as on_time_rate
from counts
