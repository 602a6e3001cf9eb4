-- Additive measures of the party-building, people-services and manhole marts reconcile
-- across 1+6+N (district = Σ streets, street = Σ communities). Counts of households
-- receiving care are published with suppressed cells (null), so they reconcile twice:
-- exactly before suppression (int_care_households_by_area_daily), and in the mart wherever
-- a parent and all its children are published. Hours and yuan are left out (doubles,
-- rounded per row). mart_resources_daily is not here: vehicles and street teams belong to
-- no community; tests/integration/test_marts_families.py checks it.
{%- set care_counts = [
    'elderly_alone_households', 'disabled_households', 'child_in_difficulty_households',
    'low_income_households', 'care_households', 'care_households_visited_30d', 'care_visits_overdue'
] %}
with party as (
    {{ level_mismatches('mart_party_building_daily', [
        'organisations', 'members', 'full_members', 'probationary_members', 'activities_held',
        'planned_attendance', 'attendees', 'volunteer_services', 'party_member_governance_services'
    ]) }}
),

services as (
    {{ level_mismatches('mart_people_services_daily', [
        'care_visits', 'care_visits_needing_follow_up', 'coupons_issued', 'coupons_redeemed',
        'coupons_issued_to_date', 'coupons_redeemed_to_date', 'service_requests_submitted',
        'service_requests_completed', 'service_requests_open'
    ]) }}
),

care_exact as (
    {{ level_mismatches('int_care_households_by_area_daily', [
        'elderly_alone', 'disabled', 'child_in_difficulty', 'low_income', 'care_households',
        'care_households_visited_30d', 'care_visits_overdue'
    ]) }}
),

-- In the mart: a parent whose count and whose children's counts are all published.
care_published as (
    select 'mart_people_services_daily' as model_name, parent.level, parent.area_code, parent.report_date
    from {{ ref('mart_people_services_daily') }} as parent
    inner join {{ ref('mart_people_services_daily') }} as child
        on child.report_date = parent.report_date and child.parent_code = parent.area_code
    group by parent.level, parent.area_code, parent.report_date
    having
    {%- for count in care_counts %}
        (max(case when parent.{{ count }} is null then 1 else 0 end) = 0
            and max(case when child.{{ count }} is null then 1 else 0 end) = 0
            and max(parent.{{ count }}) <> sum(child.{{ count }})){% if not loop.last %} or{% endif %}
    {%- endfor %}
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
select * from care_exact
union all
select * from care_published
union all
select * from manholes
union all
select * from repair_costs
