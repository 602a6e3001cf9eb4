-- The district's count equals the sum of its streets, and each street's the sum of its communities.
with levels as (select * from {{ ref('mart_cases_by_level_daily') }}),
street_sums as (
    select report_date, sum(cases_reported) as reported, sum(cases_closed) as closed
    from levels where level = 'street' group by report_date
),
community_sums as (
    select report_date, street_code, sum(cases_reported) as reported, sum(cases_closed) as closed
    from levels where level = 'community' group by report_date, street_code
)
select 'district' as level, d.report_date, d.area_code
from levels as d
join street_sums as s using (report_date)
where d.level = 'district' and (d.cases_reported <> s.reported or d.cases_closed <> s.closed)
union all
select 'street', st.report_date, st.area_code
from levels as st
join community_sums as c on c.report_date = st.report_date and c.street_code = st.area_code
where st.level = 'street' and (st.cases_reported <> c.reported or st.cases_closed <> c.closed)
