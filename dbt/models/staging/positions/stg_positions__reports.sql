-- Position reports of vehicles and teams, one row per (resource, time). The area columns
-- say where the point lies, which need not be the area the resource belongs to.
select
    resource_id,
    resource_kind,
    {{ local_timestamp('reported_at') }} as reported_at,
    cast(lon as double) as lon,
    cast(lat as double) as lat,
    cast(speed_kmh as double) as speed_kmh,
    cast(heading_deg as double) as heading_deg,
    street_code as position_street_code,
    community_code as position_community_code,
    batch_date
from {{ source('positions', 'resource_positions') }}
