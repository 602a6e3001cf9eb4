-- Households receiving care (elderly living alone, a disabled member, a child in
-- difficulty, low income) on each day, from the registry version valid that day (SCD2),
-- with the care visits they had in the 30 days ending that day (the day and the 29 before).
-- Visits name the household by the token of its head's ID number, the same token the
-- registry carries (one keyed HMAC everywhere).
with days as (
    select day from {{ ref('int_days') }}
),

households as (
    select
        households.household_id,
        households.head_id_token,
        streets.district_code,
        communities.street_code,
        households.community_code,
        coalesce(households.elderly_living_alone, false) as elderly_living_alone,
        coalesce(households.has_disabled_member, false) as has_disabled_member,
        coalesce(households.child_in_difficulty, false) as child_in_difficulty,
        coalesce(households.low_income, false) as low_income,
        households.valid_from,
        households.valid_to
    from {{ ref('stg_resources__households') }} as households
    inner join {{ ref('stg_reference__communities') }} as communities
        on communities.community_code = households.community_code
    inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = communities.street_code
    where coalesce(households.elderly_living_alone, false)
        or coalesce(households.has_disabled_member, false)
        or coalesce(households.child_in_difficulty, false)
        or coalesce(households.low_income, false)
),

household_days as (
    select days.day as report_date, households.*
    from households
    inner join days
        on days.day >= households.valid_from
        and (households.valid_to is null or days.day < households.valid_to)
),

visit_days as (
    select distinct household_id_token, cast(visited_at as date) as visit_date
    from {{ ref('stg_services__care_visits') }}
    where not coalesce(is_deleted, false) and household_id_token is not null
),

visited as (
    select
        household_days.household_id,
        household_days.report_date,
        max(visit_days.visit_date) as last_visit_date_30d
    from household_days
    inner join visit_days
        on visit_days.household_id_token = household_days.head_id_token
        and visit_days.visit_date <= household_days.report_date
        and visit_days.visit_date >= {{ add_days('household_days.report_date', -29) }}
    group by household_days.household_id, household_days.report_date
)

select
    household_days.report_date,
    household_days.household_id,
    household_days.district_code,
    household_days.street_code,
    household_days.community_code,
    household_days.elderly_living_alone,
    household_days.has_disabled_member,
    household_days.child_in_difficulty,
    household_days.low_income,
    visited.last_visit_date_30d,
    visited.last_visit_date_30d is not null as visited_within_30d
from household_days
left join visited
    on visited.household_id = household_days.household_id
    and visited.report_date = household_days.report_date
