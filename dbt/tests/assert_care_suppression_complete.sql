-- The published counts of households receiving care (mart_people_services_daily) hide what
-- they must: no count of 1 to 4 is shown; a count is null exactly where its flag says
-- suppressed; every equation a reader knows (per day and measure, a parent area = the sum
-- of its children; per area, care = visited + overdue) has no suppressed count or at
-- least two, since one alone would be the published total less the published rest; and
-- the coverage rate is null where its counts are. Rows: the day, area and what fails.
{%- set measures = {
    'elderly_alone_households': 'elderly_alone_suppressed',
    'disabled_households': 'disabled_suppressed',
    'child_in_difficulty_households': 'child_in_difficulty_suppressed',
    'low_income_households': 'low_income_suppressed',
    'care_households': 'care_households_suppressed',
    'care_households_visited_30d': 'care_households_visited_30d_suppressed',
    'care_visits_overdue': 'care_visits_overdue_suppressed',
} %}
with mart as (
    select * from {{ ref('mart_people_services_daily') }}
),

cells as (
    {%- for measure, flag in measures.items() %}
    select report_date, level, area_code, parent_code, '{{ measure }}' as measure,
        {{ measure }} as value, {{ flag }} as suppressed
    from mart{% if not loop.last %}
    union all{% endif %}
    {%- endfor %}
),

-- A parent area's cell with those of its children, per day and measure.
sums as (
    select report_date, area_code as group_area, measure, suppressed from cells where level <> 'community'
    union all
    select report_date, parent_code as group_area, measure, suppressed from cells where parent_code is not null
)

select report_date, area_code, concat(measure, ': count of 1 to 4 published') as failure
from cells where value between 1 and 4
union all
select report_date, area_code, concat(measure, ': null and suppressed disagree') as failure
from cells where (value is null) <> suppressed
union all
select report_date, group_area, concat(measure, ': one suppressed cell in the sum of its children') as failure
from sums
group by report_date, group_area, measure
having sum(case when suppressed then 1 else 0 end) = 1
union all
select report_date, area_code, 'one suppressed count of care = visited + overdue' as failure
from cells
where measure in ('care_households', 'care_households_visited_30d', 'care_visits_overdue')
group by report_date, area_code
having sum(case when suppressed then 1 else 0 end) = 1
union all
select report_date, area_code, 'coverage rate published with a suppressed count' as failure
from mart
where care_visit_coverage_30d is not null
    and (care_households_suppressed or care_households_visited_30d_suppressed)
