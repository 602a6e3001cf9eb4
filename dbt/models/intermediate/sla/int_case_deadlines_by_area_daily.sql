-- The cases due per day, area of every level and category, counted once for every mart
-- that shows them (mart_sla_daily by category, mart_case_measures_daily over all
-- categories): the cases whose response or resolution deadline fell on the day and how
-- many met it (int_case_deadlines says what meeting it is), and the open cases already
-- past their resolution deadline at the end of the day. Rows only where something was due
-- or overdue; the other counts of such a row are zero.
-- depends_on: {{ ref('stg_governance__case_events') }}
with response_cohort as (
    select * from {{ ref('int_case_deadlines') }} where responded_on_time is not null
),

resolve_cohort as (
    select * from {{ ref('int_case_deadlines') }} where resolved_on_time is not null
),

overdue as (
    select * from {{ ref('int_case_days') }}
    where report_date <= {{ as_of_date() }} and is_overdue_end_of_day
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
)

select
    keys.report_date,
    keys.level,
    keys.area_code,
    keys.category_code,
    cast(coalesce(response.response_due, 0) as bigint) as response_due,
    cast(coalesce(response.responded_on_time, 0) as bigint) as responded_on_time,
    cast(coalesce(resolve.resolve_due, 0) as bigint) as resolve_due,
    cast(coalesce(resolve.resolved_on_time, 0) as bigint) as resolved_on_time,
    cast(coalesce(open_overdue.overdue_open, 0) as bigint) as overdue_open
from keys
left join response on {{ same_area_day('response', 'keys', by=['category_code']) }}
left join resolve on {{ same_area_day('resolve', 'keys', by=['category_code']) }}
left join open_overdue on {{ same_area_day('open_overdue', 'keys', by=['category_code']) }}
