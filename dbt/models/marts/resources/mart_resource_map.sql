-- Cameras, vehicles and teams on the district map, as registered on the logical date.
-- Each camera sits at its registered point. A vehicle or team that has reported a position
-- sits at its latest one as of the logical date's end (mart_resource_positions), stale or
-- not (position_state says which); one that never reported falls back to the centre of
-- the area it belongs to (its community's centre, or for street fleets and street teams
-- the street's centre, the mean of its communities' centres). position_source says which
-- of the three placed it.
with logical_day as (
    select max(day) as day from {{ ref('int_days') }}
),

on_the_day as (
    select resources.*
    from {{ ref('int_resource_days') }} as resources
    inner join logical_day on resources.report_date = logical_day.day
),

camera_positions as (
    select cameras.camera_id, cameras.lon, cameras.lat
    from {{ ref('stg_resources__cameras') }} as cameras
    inner join logical_day
        on cameras.valid_from <= logical_day.day
        and (cameras.valid_to is null or logical_day.day < cameras.valid_to)
),

tracked as (
    select resource_kind, resource_id, lon, lat, position_state
    from {{ ref('mart_resource_positions') }}
    where last_reported_at is not null
),

communities as (
    select community_code, community_name, street_code, centroid_lon, centroid_lat
    from {{ ref('stg_reference__communities') }}
),

street_centres as (
    select street_code, avg(centroid_lon) as centre_lon, avg(centroid_lat) as centre_lat
    from communities
    group by street_code
),

placed as (
    select
        on_the_day.report_date,
        on_the_day.resource_kind,
        on_the_day.resource_type,
        on_the_day.status,
        on_the_day.district_code,
        on_the_day.street_code,
        on_the_day.community_code,
        case
            when camera_positions.camera_id is not null then 'registered_point'
            when tracked.resource_id is not null then 'latest_report'
            else 'area_centre'
        end as position_source,
        case
            when on_the_day.resource_kind = 'camera' then cast(null as string)
            else coalesce(tracked.position_state, 'none')
        end as position_state,
        round(
            coalesce(camera_positions.lon, tracked.lon, communities.centroid_lon, street_centres.centre_lon), 6
        ) as lon,
        round(
            coalesce(camera_positions.lat, tracked.lat, communities.centroid_lat, street_centres.centre_lat), 6
        ) as lat,
        on_the_day.member_count
    from on_the_day
    left join camera_positions
        on on_the_day.resource_kind = 'camera' and camera_positions.camera_id = on_the_day.resource_id
    left join tracked
        on tracked.resource_kind = on_the_day.resource_kind and tracked.resource_id = on_the_day.resource_id
    left join communities on communities.community_code = on_the_day.community_code
    left join street_centres on street_centres.street_code = on_the_day.street_code
)

select
    placed.report_date,
    placed.resource_kind,
    placed.resource_type,
    placed.status,
    placed.district_code,
    placed.street_code,
    streets.street_name,
    placed.community_code,
    communities.community_name,
    placed.position_source,
    placed.position_state,
    placed.lon,
    placed.lat,
    cast(count(*) as bigint) as resources,
    cast(sum(placed.member_count) as bigint) as team_members
from placed
inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = placed.street_code
left join communities on communities.community_code = placed.community_code
group by all
