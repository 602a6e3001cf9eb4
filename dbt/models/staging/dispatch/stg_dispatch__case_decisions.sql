select
    case_id,
    predicted_category as predicted_category_code,
    cast(confidence as double) as confidence,
    decision as dispatch_decision,
    routed_department,
    model_version,
    department as responsible_department,
    team as responsible_team,
    rule_id as routing_rule_id,
    duplicate_of as duplicate_of_case_id,
    dispatch_mode
from {{ source('dispatch', 'case_dispatch') }}
