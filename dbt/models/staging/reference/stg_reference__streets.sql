select street_code, street_name, street_name_en, district_code, geo_version
from {{ source('reference', 'ref_streets') }}
