-- The areas of 1+6+N: the district, its streets and their communities, one row each.
select
    'district' as level,
    district.district_code as area_code,
    district.district_name as area_name,
    cast(null as string) as parent_code,
    cast(null as string) as street_code,
    cast(null as string) as community_code
from {{ ref('stg_reference__districts') }} as district

union all

select
    'street' as level,
    streets.street_code as area_code,
    streets.street_name as area_name,
    streets.district_code as parent_code,
    streets.street_code,
    cast(null as string) as community_code
from {{ ref('stg_reference__streets') }} as streets

union all

select
    'community' as level,
    communities.community_code as area_code,
    communities.community_name as area_name,
    communities.street_code as parent_code,
    communities.street_code,
    communities.community_code
from {{ ref('stg_reference__communities') }} as communities
