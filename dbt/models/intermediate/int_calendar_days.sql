-- The working-day calendar: weekends off, public holidays off, adjusted working days
-- (调休) on, from the year before the holiday reference to the year after it. Days
-- outside the announced years follow the weekday rule. `working_day_seq` counts the
-- working days up to and including the day, so "N working days after d" is the working
-- day whose sequence is d's plus N.
with years as (
    select min(calendar_year) as first_year, max(calendar_year) as last_year
    from {{ ref('cn_public_holidays') }}
),

bounds as (
    select make_date(first_year - 1, 1, 1) as first_day, make_date(last_year + 1, 12, 31) as last_day
    from years
),

days as (
    {{ date_spine('bounds', 'first_day', 'last_day') }}
),

flagged as (
    select
        days.day as calendar_date,
        cast({{ iso_weekday('days.day') }} as integer) as iso_weekday,
        holidays.day_type,
        holidays.festival_zh,
        case
            when holidays.day_type = 'workday' then true
            when holidays.day_type = 'holiday' then false
            else {{ iso_weekday('days.day') }} <= 5
        end as is_working_day
    from days
    left join {{ ref('cn_public_holidays') }} as holidays on holidays.calendar_date = days.day
)

select
    calendar_date,
    iso_weekday,
    day_type,
    festival_zh,
    is_working_day,
    cast(sum(case when is_working_day then 1 else 0 end) over (
        order by calendar_date rows between unbounded preceding and current row
    ) as integer) as working_day_seq
from flagged
