{{ config(severity='warn') }}
-- Years of the working-day calendar whose days are not all from a State Council notice,
-- each with what is missing: deadlines counted in them are provisional until the seed
-- cn_public_holidays has that year's notice. A warning, not an error: the notice for a
-- year is published late in the year before, and until then the year can only be
-- counted this way. The years the calendar does not reach at all fail the build instead
-- (int_case_deadlines).
select
    year(calendar_date) as calendar_year,
    arrangement,
    case arrangement
        when 'statutory'
            then 'statutory holidays only, no adjusted working days (调休): the notice is not published '
                || 'yet; replace the rows of that year in dbt/seeds/cn_public_holidays.csv with it'
        else 'no rows in dbt/seeds/cn_public_holidays.csv: weekends off and every weekday worked; '
            || 'add the notice of that year to the seed when it is published'
    end as missing
from {{ ref('int_calendar_days') }}
where arrangement <> 'announced'
group by year(calendar_date), arrangement
