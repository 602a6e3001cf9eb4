-- Cameras, vehicles and teams on each day: the registry version valid that day (SCD2:
-- valid_from ≤ day < valid_to), so a past day shows the registry as it stood then and the
-- logical date shows the current rows. Vehicles and street teams belong to a street only
-- (community_code null).
with days as (
    select day from {{ ref('int_days') }}
),

communities as (
    select community_code, street_code from {{ ref('stg_reference__communities') }}
),

streets as (
    select street_code, district_code from {{ ref('stg_reference__streets') }}
),

registry as (
    select
        'camera' as resource_kind,
        cameras.camera_id as resource_id,
        cameras.camera_type as resource_type,
        cameras.camera_status as status,
        communities.street_code,
        cameras.community_code,
        cast(null as bigint) as member_count,
        cameras.valid_from,
        cameras.valid_to
    from {{ ref('stg_resources__cameras') }} as cameras
    inner join communities on communities.community_code = cameras.community_code

    union all

    select
        'vehicle' as resource_kind,
        vehicle_id as resource_id,
        vehicle_type as resource_type,
        vehicle_status as status,
        street_code,
        cast(null as string) as community_code,
        cast(null as bigint) as member_count,
        valid_from,
        valid_to
    from {{ ref('stg_resources__vehicles') }}

    union all

    -- The teams registry has no status: a team on the registry is counted as registered.
    select
        'team' as resource_kind,
        team_id as resource_id,
        team_type as resource_type,
        'registered' as status,
        street_code,
        community_code,
        member_count,
        valid_from,
        valid_to
    from {{ ref('stg_resources__teams') }}
)

select
    days.day as report_date,
    registry.resource_kind,
    registry.resource_id,
    registry.resource_type,
    registry.status,
    streets.district_code,
    registry.street_code,
    registry.community_code,
    registry.member_count
from registry
inner join streets on streets.street_code = registry.street_code
inner join days
    on days.day >= registry.valid_from
    and (registry.valid_to is null or days.day < registry.valid_to)
