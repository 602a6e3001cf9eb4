select district_code, district_name, city, geo_version
from {{ source('reference', 'ref_district') }}
