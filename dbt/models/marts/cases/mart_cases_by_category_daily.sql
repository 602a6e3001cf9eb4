-- Cases reported per community, day and category (zeros are left out).
select
    cases.reported_date as report_date,
    communities.street_code,
    streets.street_name,
    cases.community_code,
    communities.community_name,
    cases.category_code as category,
    categories.category_name,
    count(*) as cases_reported
from {{ ref('int_cases_joined_to_dispatch') }} as cases
inner join {{ ref('stg_reference__communities') }} as communities using (community_code)
inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = communities.street_code
inner join {{ ref('stg_reference__categories') }} as categories using (category_code)
group by all
