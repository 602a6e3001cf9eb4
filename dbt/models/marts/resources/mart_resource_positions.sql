-- Each vehicle and team registered on the logical date with its latest position as of the
-- end of that day: the last report before the logical date's 24:00 (district wall
-- clock), whichever day it came in. The instant is the logical date's end, not the run's
-- clock, so a rerun for the same date gives the same table. A position older than
-- var('position_stale_minutes') minutes at that instant is stale: the terminal has gone
-- quiet, or the vehicle is off duty. A resource that never reported has no position.
{% set stale_minutes = var('position_stale_minutes', 30) %}
with logical_day as (
    select max(day) as day from {{ ref('int_days') }}
),

as_of as (
    select day, cast({{ add_days('day', 1) }} as timestamp) as as_of_at from logical_day
),

registered as (
    select resources.*
    from {{ ref('int_resource_days') }} as resources
    inner join as_of on resources.report_date = as_of.day
    where resources.resource_kind in ('vehicle', 'team')
),

reports as (
    select reports.*
    from {{ ref('stg_positions__reports') }} as reports
    inner join as_of on reports.reported_at < as_of.as_of_at
),

latest as (
    select
        resource_id,
        resource_kind,
        reported_at,
        lon,
        lat,
        speed_kmh,
        heading_deg,
        position_street_code,
        position_community_code,
        row_number() over (partition by resource_id, resource_kind order by reported_at desc) as newest
    from reports
),

placed as (
    select
        registered.report_date,
        as_of.as_of_at,
        registered.resource_kind,
        registered.resource_id,
        registered.resource_type,
        registered.status,
        registered.district_code,
        registered.street_code,
        registered.community_code,
        latest.reported_at as last_reported_at,
        round(latest.lon, 6) as lon,
        round(latest.lat, 6) as lat,
        latest.speed_kmh,
        latest.heading_deg,
        latest.position_street_code,
        latest.position_community_code,
        cast(floor({{ microseconds_between('latest.reported_at', 'as_of.as_of_at') }} / 60000000.0) as bigint)
            as age_minutes
    from registered
    cross join as_of
    left join latest
        on latest.resource_id = registered.resource_id
        and latest.resource_kind = registered.resource_kind
        and latest.newest = 1
)

select
    placed.report_date,
    placed.as_of_at,
    placed.resource_kind,
    placed.resource_id,
    placed.resource_type,
    placed.status,
    placed.district_code,
    placed.street_code,
    streets.street_name,
    placed.community_code,
    communities.community_name,
    placed.last_reported_at,
    placed.lon,
    placed.lat,
    placed.speed_kmh,
    placed.heading_deg,
    placed.position_street_code,
    placed.position_community_code,
    position_communities.community_name as position_community_name,
    placed.age_minutes,
    cast({{ stale_minutes }} as bigint) as stale_after_minutes,
    (placed.last_reported_at is null or placed.age_minutes > {{ stale_minutes }}) as is_stale,
    case
        when placed.last_reported_at is null then 'none'
        when placed.age_minutes > {{ stale_minutes }} then 'stale'
        else 'fresh'
    end as position_state
from placed
inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = placed.street_code
left join {{ ref('stg_reference__communities') }} as communities
    on communities.community_code = placed.community_code
left join {{ ref('stg_reference__communities') }} as position_communities
    on position_communities.community_code = placed.position_community_code
