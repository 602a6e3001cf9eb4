select street_code, street_name, street_name_en, district_code
from {{ source('reference', 'ref_streets') }}
