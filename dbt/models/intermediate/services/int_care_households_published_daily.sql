-- Households receiving care per day and area of every level as the marts publish them:
-- a count of 1 to 4 households is suppressed (primary suppression), and further counts are
-- suppressed (complementary suppression) until no published number, or sum or difference
-- of published numbers, gives a suppressed one away. A suppressed count is null with its
-- <name>_suppressed flag. docs/MARTS.md (people services) says what this protects and
-- what it does not.
--
-- What a reader knows ties the cells of a day together: for each measure, the district is
-- the sum of its streets and a street the sum of its communities; for each area,
-- care_households = care_households_visited_30d + care_visits_overdue. Each such equation
-- is a group of cells (members below); complementary_suppression_round gives a group with
-- exactly one suppressed cell a partner. The rounds are repeated, stacked as CTEs, to a
-- fixpoint: 8 rounds, twice the most that simulated and test data needed (4),
-- and the test assert_care_suppression_complete fails the build if they were not enough.
{%- set type_counts = {
    'elderly_alone_households': 'elderly_alone',
    'disabled_households': 'disabled',
    'child_in_difficulty_households': 'child_in_difficulty',
    'low_income_households': 'low_income',
} %}
{%- set care_counts = ['care_households', 'care_households_visited_30d', 'care_visits_overdue'] %}
{%- set measures = (type_counts | list) + care_counts %}
{%- set rounds = 8 %}
with counts as (
    select * from {{ ref('int_care_households_by_area_daily') }}
),

areas as (
    select level, area_code, parent_code from {{ ref('int_areas') }}
),

measures as (
    {%- for measure in measures %}
    select '{{ measure }}' as measure{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

-- The equations: a parent's measure = the sum of its children's; an area's care
-- households = visited + overdue.
members as (
    select concat('sum:', measures.measure, ':', areas.parent_code) as group_id, measures.measure, areas.area_code
    from areas cross join measures
    where areas.parent_code is not null
    union all
    select concat('sum:', measures.measure, ':', areas.area_code) as group_id, measures.measure, areas.area_code
    from areas cross join measures
    where areas.level <> 'community'
    union all
    select concat('area:', areas.area_code) as group_id, measures.measure, areas.area_code
    from areas cross join measures
    where measures.measure in ('{{ care_counts | join("', '") }}')
),

-- Every cell of every area on each day with a household receiving care (an area without
-- one counts 0).
raw_cells as (
    select
        days.report_date,
        areas.level,
        areas.area_code,
        measures.measure,
        coalesce(case measures.measure
            {%- for column, count in type_counts.items() %}
            when '{{ column }}' then counts.{{ count }}
            {%- endfor %}
            {%- for column in care_counts %}
            when '{{ column }}' then counts.{{ column }}
            {%- endfor %}
        end, 0) as value
    from (select distinct report_date from counts) as days
    cross join areas
    cross join measures
    left join counts
        on counts.report_date = days.report_date
        and counts.level = areas.level
        and counts.area_code = areas.area_code
),

-- Primary suppression: 1 to 4 households.
cells_0 as (
    select raw_cells.*, value between 1 and 4 as suppressed from raw_cells
),

{%- for round in range(1, rounds + 1) %}

cells_{{ round }} as (
    {{ complementary_suppression_round('cells_' ~ (round - 1), 'members') }}
),
{%- endfor %}

published as (
    select
        report_date,
        level,
        area_code,
        {%- for measure in measures %}
        max(case when measure = '{{ measure }}' then value end) as {{ measure }}_value,
        max(case when measure = '{{ measure }}' and suppressed then 1 else 0 end) = 1
            as {{ type_counts.get(measure, measure) }}_suppressed{% if not loop.last %},{% endif %}
        {%- endfor %}
    from cells_{{ rounds }}
    group by report_date, level, area_code
)

select
    report_date,
    level,
    area_code,
    {%- for measure in measures %}
    {%- set flag = type_counts.get(measure, measure) ~ '_suppressed' %}
    case when {{ flag }} then cast(null as bigint) else {{ measure }}_value end as {{ measure }},
    {{ flag }},
    {%- endfor %}
    -- A rate is published only where both its counts are.
    case
        when care_households_suppressed or care_households_visited_30d_suppressed then cast(null as double)
        else cast(care_households_visited_30d_value as double) / nullif(care_households_value, 0)
    end as care_visit_coverage_30d
from published
