-- Every community on every day the lake has cases for, so quiet days count as zero.
with bounds as (
    select min(reported_date) as first_day, max(reported_date) as last_day
    from {{ ref('int_cases_joined_to_dispatch') }}
),

days as (
    select cast(day as date) as report_date
    from bounds, range(bounds.first_day, bounds.last_day + interval 1 day, interval 1 day) as t(day)
)

select days.report_date, communities.community_code, communities.street_code
from days
cross join {{ ref('stg_lake__communities') }} as communities
