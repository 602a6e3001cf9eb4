-- The leader's brief: one row per area of every level and day with the headline numbers,
-- their change from the day before and from the same day a week before (null where that
-- day is not in the marts). Beside the cases, one headline each from the manhole, people
-- services and party-building marts (zero or null where a family is not loaded yet).
{%- set headlines = [
    'cases_reported', 'closures', 'backlog_open', 'overdue_open',
    'response_rate', 'on_time_rate', 'satisfaction_avg', 'score',
    'manhole_cases_open_unknown_owner', 'care_visits_overdue', 'coupon_redemption_rate', 'volunteer_hours'
] %}
with today as (
    select
        measures.report_date,
        measures.level,
        measures.area_code,
        measures.area_name,
        measures.parent_code,
        measures.street_code,
        measures.community_code,
        measures.cases_reported,
        measures.closures,
        measures.backlog_open,
        measures.overdue_open,
        measures.response_rate,
        measures.on_time_rate,
        measures.satisfaction_avg,
        scorecard.score,
        scorecard.rank_in_level,
        scorecard.areas_ranked,
        manholes.cases_open_unknown_owner as manhole_cases_open_unknown_owner,
        services.care_visits_overdue,
        services.coupon_redemption_rate,
        party.volunteer_hours
    from {{ ref('mart_case_measures_daily') }} as measures
    inner join {{ ref('mart_scorecard_daily') }} as scorecard
        on scorecard.report_date = measures.report_date and scorecard.level = measures.level
        and scorecard.area_code = measures.area_code
    left join {{ ref('mart_manhole_covers_daily') }} as manholes
        on manholes.report_date = measures.report_date and manholes.level = measures.level
        and manholes.area_code = measures.area_code
    left join {{ ref('mart_people_services_daily') }} as services
        on services.report_date = measures.report_date and services.level = measures.level
        and services.area_code = measures.area_code
    left join {{ ref('mart_party_building_daily') }} as party
        on party.report_date = measures.report_date and party.level = measures.level
        and party.area_code = measures.area_code
)

select
    today.*,
    {%- for headline in headlines %}
    today.{{ headline }} - day_before.{{ headline }} as {{ headline }}_change_1d,
    today.{{ headline }} - week_before.{{ headline }} as {{ headline }}_change_7d{% if not loop.last %},{% endif %}
    {%- endfor %}
from today
left join today as day_before
    on day_before.report_date = {{ add_days('today.report_date', -1) }}
    and day_before.level = today.level and day_before.area_code = today.area_code
left join today as week_before
    on week_before.report_date = {{ add_days('today.report_date', -7) }}
    and week_before.level = today.level and week_before.area_code = today.area_code
