select district_code, district_name, city
from {{ source('reference', 'ref_district') }}
