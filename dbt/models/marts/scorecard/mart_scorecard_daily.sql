-- One composite score per area and day: the mean of its measures' capped ratios (measures
-- without a ratio that day are left out). An area is ranked within its level only when it
-- had at least `scorecard_min_cases` cases reported that day; rank 1 is the best score.
-- Each row carries its street's name, so a chart can show a community's street without
-- joining the street's own row (which row-level security hides from a community viewer).
with scores as (
    select
        report_date,
        level,
        area_code,
        count(ratio) as measures_scored,
        round(avg(ratio), 9) as score
    from {{ ref('mart_scorecard_measures_daily') }}
    group by report_date, level, area_code
),

volumes as (
    select
        {{ area_day_columns('measures') }},
        measures.cases_reported,
        scores.measures_scored,
        scores.score,
        measures.cases_reported >= {{ var('scorecard_min_cases', 5) }} and scores.score is not null as is_ranked
    from {{ ref('mart_case_measures_daily') }} as measures
    inner join scores on {{ same_area_day('scores', 'measures') }}
)

select
    volumes.*,
    cast(case
        when volumes.is_ranked then rank() over (
            partition by report_date, level, is_ranked order by score desc
        )
    end as integer) as rank_in_level,
    cast(sum(case when is_ranked then 1 else 0 end) over (partition by report_date, level) as integer)
        as areas_ranked,
    streets.street_name
from volumes
left join {{ ref('stg_reference__streets') }} as streets on streets.street_code = volumes.street_code
