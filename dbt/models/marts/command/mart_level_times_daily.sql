-- Time cases spent at each level (community, street, district) per day and area of 1+6+N:
-- the stays of int_case_level_stays that ended that day — the case went up a level or was
-- closed there — with the working hours each lasted (median, p90, mean over the area's
-- own stays, never averaged from below), and the stays still open at the end of the day.
-- depends_on: {{ ref('stg_governance__case_events') }}
with stays as (
    select
        case_id,
        level as handling_level,
        district_code,
        street_code,
        community_code,
        entered_at,
        left_at,
        left_by,
        working_hours_at_level
    from {{ ref('int_case_level_stays') }}
),

ended as (
    select *, cast(left_at as date) as left_date from stays where left_at is not null
),

ended_counts as (
    {% set aggregates %}
    count(*) as stays_ended,
    sum(case when left_by = 'escalated' then 1 else 0 end) as left_by_escalation,
    sum(case when left_by = 'closed' then 1 else 0 end) as left_by_close,
    {{ percentile_cont('working_hours_at_level', 0.5) }} as median_working_hours,
    {{ percentile_cont('working_hours_at_level', 0.9) }} as p90_working_hours,
    avg(working_hours_at_level) as mean_working_hours
    {% endset %}
    {{ rollup_by_level('ended', 'left_date', aggregates, by=['handling_level']) }}
),

-- A stay is open at the end of each day from the day it began until the day before it ended.
open_days as (
    select days.day as open_date, stays.*
    from stays
    inner join {{ ref('int_days') }} as days
        on days.day >= cast(stays.entered_at as date)
        and (stays.left_at is null or days.day < cast(stays.left_at as date))
),

open_counts as (
    {% set open_aggregates %}
    count(*) as stays_open
    {% endset %}
    {{ rollup_by_level('open_days', 'open_date', open_aggregates, by=['handling_level']) }}
),

levels as (
    select 'community' as handling_level
    union all
    select 'street'
    union all
    select 'district'
)

select
    {{ area_day_columns('area_days') }},
    levels.handling_level,
    cast(coalesce(ended_counts.stays_ended, 0) as bigint) as stays_ended,
    cast(coalesce(ended_counts.left_by_escalation, 0) as bigint) as left_by_escalation,
    cast(coalesce(ended_counts.left_by_close, 0) as bigint) as left_by_close,
    cast(coalesce(open_counts.stays_open, 0) as bigint) as stays_open_end_of_day,
    cast(ended_counts.median_working_hours as double) as median_working_hours,
    cast(ended_counts.p90_working_hours as double) as p90_working_hours,
    cast(ended_counts.mean_working_hours as double) as mean_working_hours
from ({{ area_days() }}) as area_days
cross join levels
left join ended_counts
    on {{ same_area_day('ended_counts', 'area_days') }}
    and ended_counts.handling_level = levels.handling_level
left join open_counts
    on {{ same_area_day('open_counts', 'area_days') }}
    and open_counts.handling_level = levels.handling_level
