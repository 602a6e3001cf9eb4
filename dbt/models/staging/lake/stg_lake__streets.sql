select street_code, street_name, street_name_en, district_code
from {{ source('lake', 'ref_streets') }}
