-- Households receiving care per day and area of every level, by type, with those visited
-- in the 30 days ending on the day and those overdue: the exact counts, before any
-- suppression. Never published as such: int_care_households_published_daily suppresses
-- them and the marts read that. Households of several types count once in each of their
-- types and once in care_households. Only areas with a household receiving care that
-- day have a row.
with counted as (
    {% set aggregates %}
    cast(sum(case when elderly_living_alone then 1 else 0 end) as bigint) as elderly_alone,
    cast(sum(case when has_disabled_member then 1 else 0 end) as bigint) as disabled,
    cast(sum(case when child_in_difficulty then 1 else 0 end) as bigint) as child_in_difficulty,
    cast(sum(case when low_income then 1 else 0 end) as bigint) as low_income,
    cast(count(*) as bigint) as care_households,
    cast(sum(case when visited_within_30d then 1 else 0 end) as bigint) as care_households_visited_30d
    {% endset %}
    {{ rollup_by_level(ref('int_care_household_days'), 'report_date', aggregates) }}
)

select
    counted.report_date,
    counted.level,
    counted.area_code,
    areas.parent_code,
    counted.elderly_alone,
    counted.disabled,
    counted.child_in_difficulty,
    counted.low_income,
    counted.care_households,
    counted.care_households_visited_30d,
    counted.care_households - counted.care_households_visited_30d as care_visits_overdue
from counted
inner join {{ ref('int_areas') }} as areas on areas.level = counted.level and areas.area_code = counted.area_code
