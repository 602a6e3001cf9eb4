-- Additive measures of the party-building, people-services and manhole marts reconcile
-- across 1+6+N (district = Σ streets, street = Σ communities). Household counts by type
-- are left out (suppressed below 5, so they cannot add up); so are hours and yuan
-- (doubles, rounded per row). mart_resources_daily is not here: vehicles and street
-- teams belong to no community; tests/integration/test_marts_families.py checks it.
with party as (
    {{ level_mismatches('mart_party_building_daily', [
        'organisations', 'members', 'full_members', 'probationary_members', 'activities_held',
        'planned_attendance', 'attendees', 'volunteer_services', 'party_member_governance_services'
    ]) }}
),

services as (
    {{ level_mismatches('mart_people_services_daily', [
        'care_households', 'care_households_visited_30d', 'care_visits_overdue', 'care_visits',
        'care_visits_needing_follow_up', 'coupons_issued', 'coupons_redeemed', 'coupons_issued_to_date',
        'coupons_redeemed_to_date', 'service_requests_submitted', 'service_requests_completed',
        'service_requests_open'
    ]) }}
),

manholes as (
    {{ level_mismatches('mart_manhole_covers_daily', [
        'cases_reported', 'cases_reported_unknown_owner', 'cases_open', 'cases_open_unknown_owner',
        'covers_made_safe', 'covers_repaired', 'covers_registered', 'covers_unknown_owner'
    ]) }}
),

repair_costs as (
    {{ level_mismatches('mart_manhole_repair_costs', ['repairs', 'repairs_completed'], by=['owner_department', 'settlement_status']) }}
)

select * from party
union all
select * from services
union all
select * from manholes
union all
select * from repair_costs
