-- One row per case with its report and close dates, where it came from and, when
-- scored, its dispatch decision.
select
    cases.case_id,
    cases.channel_code,
    case when cases.channel_code = 'grid_patrol' then 'grid_worker' else 'resident' end as case_source,
    cases.category_code,
    cases.district_code,
    cases.street_code,
    cases.community_code,
    cases.reported_at,
    cast(cases.reported_at as date) as reported_date,
    cases.closed_at,
    cast(cases.closed_at as date) as closed_date,
    cases.status,
    cases.satisfaction,
    dispatch.dispatch_decision,
    dispatch.dispatch_mode
from {{ ref('stg_governance__cases') }} as cases
left join {{ ref('stg_dispatch__case_decisions') }} as dispatch on dispatch.case_id = cases.case_id
