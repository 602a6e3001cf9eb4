-- Party building per day and area of every level: organisations and members on the
-- register, organisational activities and their attendance, volunteer hours, and party
-- members' volunteer service in community governance.
-- Silver keeps each record's latest export: an organisation or member marked deleted is
-- counted up to the day before the batch that brought the mark (its batch_date).
-- No source links party members to governance cases (case handlers are grid workers and
-- departments); the honest measure of party members taking part in governance is their
-- volunteer service of type community_governance (社区治理), which is what
-- party_member_governance_services / _hours count.
with areas as (
    select * from {{ ref('int_area_days') }}
),

org_days as (
    select days.day as report_date, orgs.district_code, orgs.street_code, orgs.community_code
    from {{ ref('stg_party__organisations') }} as orgs
    inner join {{ ref('int_days') }} as days
        on orgs.established_on <= days.day
        and (not coalesce(orgs.is_deleted, false) or orgs.batch_date > days.day)
),

organisations as (
    {% set org_aggregates %}
    cast(count(*) as bigint) as organisations
    {% endset %}
    {{ rollup_by_level('org_days', 'report_date', org_aggregates) }}
),

member_days as (
    select
        days.day as report_date,
        members.district_code,
        members.street_code,
        members.community_code,
        members.member_status
    from {{ ref('stg_party__members') }} as members
    inner join {{ ref('int_days') }} as days
        on members.joined_on <= days.day
        and (not coalesce(members.is_deleted, false) or members.batch_date > days.day)
),

members as (
    {% set member_aggregates %}
    cast(count(*) as bigint) as members,
    cast(sum(case when member_status = 'full' then 1 else 0 end) as bigint) as full_members,
    cast(sum(case when member_status = 'probationary' then 1 else 0 end) as bigint) as probationary_members
    {% endset %}
    {{ rollup_by_level('member_days', 'report_date', member_aggregates) }}
),

held as (
    select
        activity_id,
        cast(held_at as date) as held_date,
        district_code,
        street_code,
        community_code,
        planned_attendance
    from {{ ref('stg_party__activities') }}
    where not coalesce(is_deleted, false)
),

-- A member signing in twice to one activity attended once.
sign_ins as (
    select activity_id, cast(count(distinct member_id) as bigint) as attendees
    from {{ ref('stg_party__attendance') }}
    where not coalesce(is_deleted, false)
    group by activity_id
),

activity_rows as (
    select held.*, coalesce(sign_ins.attendees, 0) as attendees
    from held
    left join sign_ins on sign_ins.activity_id = held.activity_id
),

activities as (
    {% set activity_aggregates %}
    cast(count(*) as bigint) as activities_held,
    cast(sum(planned_attendance) as bigint) as planned_attendance,
    cast(sum(attendees) as bigint) as attendees
    {% endset %}
    {{ rollup_by_level('activity_rows', 'held_date', activity_aggregates) }}
),

service_rows as (
    select
        cast(started_at as date) as service_date,
        district_code,
        street_code,
        community_code,
        coalesce(is_party_member, false) as is_party_member,
        service_type,
        hours
    from {{ ref('stg_party__volunteer_services') }}
    where not coalesce(is_deleted, false)
),

services as (
    {% set service_aggregates %}
    cast(count(*) as bigint) as volunteer_services,
    sum(hours) as volunteer_hours,
    sum(case when is_party_member then hours else 0 end) as party_member_volunteer_hours,
    cast(sum(case when is_party_member and service_type = 'community_governance' then 1 else 0 end) as bigint)
        as party_member_governance_services,
    sum(case when is_party_member and service_type = 'community_governance' then hours else 0 end)
        as party_member_governance_hours
    {% endset %}
    {{ rollup_by_level('service_rows', 'service_date', service_aggregates) }}
)

select
    areas.report_date,
    areas.level,
    areas.area_code,
    areas.area_name,
    areas.parent_code,
    areas.street_code,
    areas.community_code,
    coalesce(organisations.organisations, 0) as organisations,
    coalesce(members.members, 0) as members,
    coalesce(members.full_members, 0) as full_members,
    coalesce(members.probationary_members, 0) as probationary_members,
    coalesce(activities.activities_held, 0) as activities_held,
    coalesce(activities.planned_attendance, 0) as planned_attendance,
    coalesce(activities.attendees, 0) as attendees,
    cast(activities.attendees as double) / nullif(activities.planned_attendance, 0) as attendance_rate,
    coalesce(services.volunteer_services, 0) as volunteer_services,
    round(coalesce(services.volunteer_hours, 0), 2) as volunteer_hours,
    round(coalesce(services.party_member_volunteer_hours, 0), 2) as party_member_volunteer_hours,
    coalesce(services.party_member_governance_services, 0) as party_member_governance_services,
    round(coalesce(services.party_member_governance_hours, 0), 2) as party_member_governance_hours
from areas
left join organisations
    on organisations.report_date = areas.report_date and organisations.level = areas.level
    and organisations.area_code = areas.area_code
left join members
    on members.report_date = areas.report_date and members.level = areas.level
    and members.area_code = areas.area_code
left join activities
    on activities.report_date = areas.report_date and activities.level = areas.level
    and activities.area_code = areas.area_code
left join services
    on services.report_date = areas.report_date and services.level = areas.level
    and services.area_code = areas.area_code
