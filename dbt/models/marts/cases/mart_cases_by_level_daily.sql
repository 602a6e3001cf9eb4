-- The same case counts at every level of 1+6+N: the district, each street, each community.
with counted as (
    {% set aggregates %}
    cast(sum(cases_reported) as bigint) as cases_reported,
    cast(sum(cases_closed) as bigint) as cases_closed
    {% endset %}
    {{ rollup_by_level(ref('mart_cases_by_community_daily'), 'report_date', aggregates) }}
)

select
    {{ area_day_columns('areas', day='counted.report_date') }},
    counted.cases_reported,
    counted.cases_closed
from counted
inner join {{ ref('int_areas') }} as areas on {{ same_area('areas', 'counted') }}
