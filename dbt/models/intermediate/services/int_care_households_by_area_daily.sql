-- Households receiving care per day and area of every level, by type. Published counts
-- are aggregates only: a count of 1 to 4 households is suppressed to null (with its
-- flag) so that no small group of residents can be singled out; 0 and 5 or more are shown.
-- Households of several types count once in each of their types and once in
-- care_households.
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
    report_date,
    level,
    area_code,
    {%- for kind in ['elderly_alone', 'disabled', 'child_in_difficulty', 'low_income'] %}
    case when {{ kind }} between 1 and 4 then cast(null as bigint) else {{ kind }} end
        as {{ kind }}_households,
    {{ kind }} between 1 and 4 as {{ kind }}_suppressed,
    {%- endfor %}
    care_households,
    care_households_visited_30d
from counted
where area_code is not null
