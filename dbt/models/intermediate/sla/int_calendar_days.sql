-- The working-day calendar: weekends off, public holidays off, adjusted working days
-- (调休) on, from the first year of the holiday reference (seed cn_public_holidays) to
-- the year after its last, so that the deadlines of the last year's December land in it.
-- `working_day_seq` counts the working days up to and including the day, so "N working
-- days after d" is the working day whose sequence is d's plus N.
-- How far a day can be trusted is its year's `arrangement`: `announced` (the State
-- Council's notice is in the seed), `statutory` (only the statutory holidays are: the
-- notice with its adjusted working days is not published yet) or `weekday_rule` (the
-- year after the seed's last: weekends off, every weekday worked). The data test
-- assert_calendar_years_announced names the years that are not announced, and
-- int_case_deadlines fails on a deadline outside the calendar rather than leave it null.
with years as (
    select min(calendar_year) as first_year, max(calendar_year) as last_year
    from {{ ref('cn_public_holidays') }}
),

bounds as (
    select make_date(first_year, 1, 1) as first_day, make_date(last_year + 1, 12, 31) as last_day
    from years
),

days as (
    {{ date_spine('bounds', 'first_day', 'last_day') }}
),

-- A year is only as announced as its least announced row.
year_arrangements as (
    select
        calendar_year,
        case when sum(case when arrangement = 'announced' then 0 else 1 end) = 0 then 'announced' else 'statutory' end
            as arrangement
    from {{ ref('cn_public_holidays') }}
    group by calendar_year
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
        end as is_working_day,
        coalesce(year_arrangements.arrangement, 'weekday_rule') as arrangement
    from days
    left join {{ ref('cn_public_holidays') }} as holidays on holidays.calendar_date = days.day
    left join year_arrangements on year_arrangements.calendar_year = year(days.day)
)

select
    calendar_date,
    iso_weekday,
    day_type,
    festival_zh,
    is_working_day,
    arrangement,
    cast(sum(case when is_working_day then 1 else 0 end) over (
        order by calendar_date rows between unbounded preceding and current row
    ) as integer) as working_day_seq
from flagged
