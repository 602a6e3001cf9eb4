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
        {{ area_day_columns('measures') }},
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
    inner join {{ ref('mart_scorecard_daily') }} as scorecard on {{ same_area_day('scorecard', 'measures') }}
    left join {{ ref('mart_manhole_covers_daily') }} as manholes on {{ same_area_day('manholes', 'measures') }}
    left join {{ ref('mart_people_services_daily') }} as services on {{ same_area_day('services', 'measures') }}
    left join {{ ref('mart_party_building_daily') }} as party on {{ same_area_day('party', 'measures') }}
)

select
    today.*,
    {%- for headline in headlines %}
    today.{{ headline }} - day_before.{{ headline }} as {{ headline }}_change_1d,
    today.{{ headline }} - week_before.{{ headline }} as {{ headline }}_change_7d{% if not loop.last %},{% endif %}
    {%- endfor %}
from today
left join today as day_before
    on day_before.report_date = {{ add_days('today.report_date', -1) }} and {{ same_area('day_before', 'today') }}
left join today as week_before
    on week_before.report_date = {{ add_days('today.report_date', -7) }} and {{ same_area('week_before', 'today') }}
