select
    community_code,
    community_name,
    street_code,
    cast(centroid_lon as double) as centroid_lon,
    cast(centroid_lat as double) as centroid_lat,
    geo_version
from {{ source('reference', 'ref_communities') }}
