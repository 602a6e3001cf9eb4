-- Party building per day and area of every level: organisations and members on the
-- register, organisational activities and their attendance, volunteer hours, and party
-- members' volunteer service in community governance.
-- Silver keeps each record's latest export: an organisation or member marked deleted is
-- counted up to the day before the batch that brought the mark (its batch_date).
-- No source links party members to governance cases (case handlers are grid workers and
-- departments); the honest measure of party members taking part in governance is their
-- volunteer service of type community_governance (社区治理), which is what
-- party_member_governance_services / _hours count.
with register as (
    select
        'organisation' as record_kind,
        established_on as on_register_from,
        district_code,
        street_code,
        community_code,
        cast(null as string) as member_status,
        is_deleted,
        batch_date
    from {{ ref('stg_party__organisations') }}

    union all

    select
        'member' as record_kind,
        joined_on as on_register_from,
        district_code,
        street_code,
        community_code,
        member_status,
        is_deleted,
        batch_date
    from {{ ref('stg_party__members') }}
),

register_days as (
    select days.day as report_date, register.*
    from register
    inner join {{ ref('int_days') }} as days
        on register.on_register_from <= days.day
        and (not coalesce(register.is_deleted, false) or register.batch_date > days.day)
),

registered as (
    {% set register_aggregates %}
    cast(sum(case when record_kind = 'organisation' then 1 else 0 end) as bigint) as organisations,
    cast(sum(case when record_kind = 'member' then 1 else 0 end) as bigint) as members,
    cast(sum(case when member_status = 'full' then 1 else 0 end) as bigint) as full_members,
    cast(sum(case when member_status = 'probationary' then 1 else 0 end) as bigint) as probationary_members
    {% endset %}
    {{ rollup_by_level('register_days', 'report_date', register_aggregates) }}
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
    from {{ ref('stg_party__sign_ins') }}
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
    {{ area_day_columns('area_days') }},
    coalesce(registered.organisations, 0) as organisations,
    coalesce(registered.members, 0) as members,
    coalesce(registered.full_members, 0) as full_members,
    coalesce(registered.probationary_members, 0) as probationary_members,
    coalesce(activities.activities_held, 0) as activities_held,
    coalesce(activities.planned_attendance, 0) as planned_attendance,
    coalesce(activities.attendees, 0) as attendees,
    cast(activities.attendees as double) / nullif(activities.planned_attendance, 0) as attendance_rate,
    coalesce(services.volunteer_services, 0) as volunteer_services,
    round(coalesce(services.volunteer_hours, 0), 2) as volunteer_hours,
    round(coalesce(services.party_member_volunteer_hours, 0), 2) as party_member_volunteer_hours,
    coalesce(services.party_member_governance_services, 0) as party_member_governance_services,
    round(coalesce(services.party_member_governance_hours, 0), 2) as party_member_governance_hours
{{ from_area_days(['registered', 'activities', 'services']) }}
