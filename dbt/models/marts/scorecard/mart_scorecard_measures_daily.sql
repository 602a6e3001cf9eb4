-- Each scorecard measure of each area and day against its target (seed
-- scorecard_targets), in the manner of Boston's CityScore: the ratio is actual/target
-- when higher is better and target/actual when lower is better, capped at
-- `scorecard_ratio_cap` so that one measure far above target cannot hide another below;
-- 1.0 means on target. A measure with no cases behind it that day has no ratio.
{%- set measures = [
    'response_rate', 'on_time_rate', 'feedback_rate',
    'median_hours_to_dispatch', 'reopen_rate', 'satisfaction_avg'
] %}
with measures as (
    {%- for measure in measures %}
    select
        report_date, level, area_code, area_name, parent_code, street_code, community_code,
        '{{ measure }}' as measure_code,
        cast({{ measure }} as double) as actual
    from {{ ref('mart_case_measures_daily') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    {{ area_day_columns('measures') }},
    measures.measure_code,
    targets.measure_name_zh,
    targets.measure_name_en,
    targets.direction,
    cast(targets.target as double) as target,
    measures.actual,
    cast(case
        when measures.actual is null then null
        when targets.direction = 'higher'
            then least(measures.actual / targets.target, {{ var('scorecard_ratio_cap', 1.2) }})
        when measures.actual = 0 then {{ var('scorecard_ratio_cap', 1.2) }}
        else least(targets.target / measures.actual, {{ var('scorecard_ratio_cap', 1.2) }})
    end as double) as ratio
from measures
inner join {{ ref('scorecard_targets') }} as targets on targets.measure_code = measures.measure_code
