-- Case flow per community and day (every community on every day, quiet days as zero):
-- reported, closed, and how the reported ones were dispatched.
with community_days as (
    select * from ({{ area_days() }}) as area_days where level = 'community'
),

reported as (
    select
        reported_date as report_date,
        community_code,
        count(*) as cases_reported,
        count(*) filter (where dispatch_decision = 'auto') as cases_auto_dispatched,
        count(*) filter (where dispatch_decision = 'review') as cases_for_review
    from {{ ref('int_cases_joined_to_dispatch') }}
    group by all
),

closed as (
    select closed_date as report_date, community_code, count(*) as cases_closed
    from {{ ref('int_cases_joined_to_dispatch') }}
    where closed_date is not null
    group by all
)

select
    community_days.report_date,
    district.district_code,
    district.district_name,
    streets.street_code,
    streets.street_name,
    communities.community_code,
    communities.community_name,
    coalesce(reported.cases_reported, 0) as cases_reported,
    coalesce(closed.cases_closed, 0) as cases_closed,
    coalesce(reported.cases_auto_dispatched, 0) as cases_auto_dispatched,
    coalesce(reported.cases_for_review, 0) as cases_for_review
from community_days
inner join {{ ref('stg_reference__communities') }} as communities
    on communities.community_code = community_days.community_code
inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = communities.street_code
inner join {{ ref('stg_reference__districts') }} as district on district.district_code = streets.district_code
left join reported
    on reported.report_date = community_days.report_date and reported.community_code = community_days.community_code
left join closed
    on closed.report_date = community_days.report_date and closed.community_code = community_days.community_code
