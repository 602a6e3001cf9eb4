-- People services per day and area of every level: households receiving care by type,
-- in all, visited in the 30 days ending on the day and overdue, with the visit coverage,
-- as int_care_households_published_daily publishes them (counts of 1 to 4 suppressed, and
-- further counts so that none can be worked out from the others: null with a
-- <name>_suppressed flag); welfare coupons issued and redeemed, and service requests.
-- A day without any household receiving care shows zeros.
with visit_rows as (
    select cast(visited_at as date) as visit_date, district_code, street_code, community_code, follow_up
    from {{ ref('stg_services__care_visits') }}
    where not coalesce(is_deleted, false)
),

visits as (
    {% set visit_aggregates %}
    cast(count(*) as bigint) as care_visits,
    cast(sum(case when follow_up then 1 else 0 end) as bigint) as care_visits_needing_follow_up
    {% endset %}
    {{ rollup_by_level('visit_rows', 'visit_date', visit_aggregates) }}
),

coupon_rows as (
    select * from {{ ref('stg_services__coupons') }}
    where not coalesce(is_deleted, false)
),

-- Each coupon on every day from its issue on, with whether it was redeemed by then.
coupon_days as (
    select
        days.day as report_date,
        coupon_rows.district_code,
        coupon_rows.street_code,
        coupon_rows.community_code,
        coupon_rows.face_value,
        cast(coupon_rows.issued_at as date) = days.day as issued_today,
        cast(coupon_rows.redeemed_at as date) = days.day as redeemed_today,
        coalesce(cast(coupon_rows.redeemed_at as date) <= days.day, false) as redeemed_by_then
    from coupon_rows
    inner join {{ ref('int_days') }} as days on cast(coupon_rows.issued_at as date) <= days.day
),

coupons as (
    {% set coupon_aggregates %}
    cast(sum(case when issued_today then 1 else 0 end) as bigint) as coupons_issued,
    cast(sum(case when redeemed_today then 1 else 0 end) as bigint) as coupons_redeemed,
    sum(case when issued_today then face_value else 0 end) as coupon_value_issued,
    sum(case when redeemed_today then face_value else 0 end) as coupon_value_redeemed,
    cast(count(*) as bigint) as coupons_issued_to_date,
    cast(sum(case when redeemed_by_then then 1 else 0 end) as bigint) as coupons_redeemed_to_date
    {% endset %}
    {{ rollup_by_level('coupon_days', 'report_date', coupon_aggregates) }}
),

request_days as (
    select
        days.day as report_date,
        requests.district_code,
        requests.street_code,
        requests.community_code,
        cast(requests.submitted_at as date) = days.day as submitted_today,
        coalesce(cast(requests.completed_at as date) = days.day, false) as completed_today,
        requests.completed_at is null or cast(requests.completed_at as date) > days.day as open_end_of_day
    from {{ ref('stg_services__requests') }} as requests
    inner join {{ ref('int_days') }} as days on cast(requests.submitted_at as date) <= days.day
    where not coalesce(requests.is_deleted, false)
),

requests as (
    {% set request_aggregates %}
    cast(sum(case when submitted_today then 1 else 0 end) as bigint) as service_requests_submitted,
    cast(sum(case when completed_today then 1 else 0 end) as bigint) as service_requests_completed,
    cast(sum(case when open_end_of_day then 1 else 0 end) as bigint) as service_requests_open
    {% endset %}
    {{ rollup_by_level('request_days', 'report_date', request_aggregates) }}
),

care as (
    select * from {{ ref('int_care_households_published_daily') }}
)

select
    {{ area_day_columns('area_days') }},
    {%- for column, flag in [
        ('elderly_alone_households', 'elderly_alone_suppressed'),
        ('disabled_households', 'disabled_suppressed'),
        ('child_in_difficulty_households', 'child_in_difficulty_suppressed'),
        ('low_income_households', 'low_income_suppressed'),
        ('care_households', 'care_households_suppressed'),
        ('care_households_visited_30d', 'care_households_visited_30d_suppressed'),
        ('care_visits_overdue', 'care_visits_overdue_suppressed'),
    ] %}
    case when care.area_code is null then cast(0 as bigint) else care.{{ column }} end as {{ column }},
    coalesce(care.{{ flag }}, false) as {{ flag }},
    {%- endfor %}
    care.care_visit_coverage_30d,
    coalesce(visits.care_visits, 0) as care_visits,
    coalesce(visits.care_visits_needing_follow_up, 0) as care_visits_needing_follow_up,
    coalesce(coupons.coupons_issued, 0) as coupons_issued,
    coalesce(coupons.coupons_redeemed, 0) as coupons_redeemed,
    round(coalesce(coupons.coupon_value_issued, 0), 2) as coupon_value_issued,
    round(coalesce(coupons.coupon_value_redeemed, 0), 2) as coupon_value_redeemed,
    coalesce(coupons.coupons_issued_to_date, 0) as coupons_issued_to_date,
    coalesce(coupons.coupons_redeemed_to_date, 0) as coupons_redeemed_to_date,
    cast(coupons.coupons_redeemed_to_date as double) / nullif(coupons.coupons_issued_to_date, 0)
        as coupon_redemption_rate,
    coalesce(requests.service_requests_submitted, 0) as service_requests_submitted,
    coalesce(requests.service_requests_completed, 0) as service_requests_completed,
    coalesce(requests.service_requests_open, 0) as service_requests_open
{{ from_area_days(['care', 'visits', 'coupons', 'requests']) }}
