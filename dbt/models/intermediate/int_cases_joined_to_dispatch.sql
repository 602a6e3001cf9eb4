-- One row per case with its report and close dates and, when scored, its dispatch decision.
select
    cases.case_id,
    cases.channel_code,
    cases.category_code,
    cases.street_code,
    cases.community_code,
    cases.reported_at,
    cast(cases.reported_at as date) as reported_date,
    cases.closed_at,
    cast(cases.closed_at as date) as closed_date,
    cases.status,
    dispatch.dispatch_decision
from {{ ref('stg_lake__governance_cases') }} as cases
left join {{ ref('stg_lake__case_dispatch') }} as dispatch using (case_id)
