-- Days of the 2026 notice checked by hand against the working-day calendar: holidays off,
-- adjusted working weekend days (调休) on, ordinary weekends off, ordinary weekdays on.
with expected as (
    select cast('2026-01-04' as date) as calendar_date, true as is_working_day  -- Sunday, worked (元旦)
    union all select cast('2026-02-14' as date), true   -- Saturday, worked (春节)
    union all select cast('2026-02-16' as date), false  -- Monday, 春节
    union all select cast('2026-09-20' as date), true   -- Sunday, worked (国庆)
    union all select cast('2026-10-01' as date), false  -- Thursday, 国庆
    union all select cast('2026-10-07' as date), false  -- Wednesday, 国庆
    union all select cast('2026-10-08' as date), true   -- Thursday after the break
    union all select cast('2026-10-10' as date), true   -- Saturday, worked (国庆)
    union all select cast('2026-10-11' as date), false  -- Sunday
    union all select cast('2026-11-21' as date), false  -- Saturday
    union all select cast('2026-11-23' as date), true   -- Monday
)

select expected.calendar_date, expected.is_working_day as expected, calendar.is_working_day as actual
from expected
left join {{ ref('int_calendar_days') }} as calendar on calendar.calendar_date = expected.calendar_date
where calendar.is_working_day is null or calendar.is_working_day <> expected.is_working_day

union all

-- Three working days from Wednesday 30 September 2026 lead to Saturday 10 October.
select cast('2026-10-10' as date), true, false
from {{ ref('int_calendar_days') }} as start_day
inner join {{ ref('int_calendar_days') }} as end_day
    on start_day.calendar_date = cast('2026-09-30' as date) and end_day.calendar_date = cast('2026-10-10' as date)
where end_day.working_day_seq - start_day.working_day_seq <> 3
