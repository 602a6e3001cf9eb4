select district_code, district_name, city
from {{ source('lake', 'ref_district') }}
