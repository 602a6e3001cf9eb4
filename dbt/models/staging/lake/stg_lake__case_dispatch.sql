select
    case_id,
    predicted_category as predicted_category_code,
    cast(confidence as double) as confidence,
    decision as dispatch_decision,
    routed_department,
    model_version
from {{ source('lake', 'case_dispatch') }}
