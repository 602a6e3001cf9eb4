-- The same case counts at every level of 1+6+N: the district, each street, each community.
with by_community as (
    select * from {{ ref('mart_cases_by_community_daily') }}
)

select
    report_date,
    'district' as level,
    district_code as area_code,
    any_value(district_name) as area_name,
    cast(null as string) as parent_code,
    cast(null as string) as street_code,
    cast(null as string) as community_code,
    cast(sum(cases_reported) as bigint) as cases_reported,
    cast(sum(cases_closed) as bigint) as cases_closed
from by_community
group by report_date, district_code

union all

select
    report_date,
    'street' as level,
    street_code as area_code,
    any_value(street_name) as area_name,
    any_value(district_code) as parent_code,
    street_code,
    cast(null as string) as community_code,
    cast(sum(cases_reported) as bigint) as cases_reported,
    cast(sum(cases_closed) as bigint) as cases_closed
from by_community
group by report_date, street_code

union all

select
    report_date,
    'community' as level,
    community_code as area_code,
    community_name as area_name,
    street_code as parent_code,
    street_code,
    community_code,
    cases_reported,
    cases_closed
from by_community
