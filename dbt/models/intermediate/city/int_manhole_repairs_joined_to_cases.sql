-- Manhole repairs with the report time of their case (for the time to make safe) and the
-- owner department of the cover ('unknown' when none is on record).
select
    repairs.repair_id,
    repairs.case_id,
    repairs.asset_id,
    repairs.district_code,
    repairs.street_code,
    repairs.community_code,
    repairs.made_safe_at,
    cast(repairs.made_safe_at as date) as made_safe_date,
    repairs.repaired_at,
    repairs.cost_yuan,
    repairs.cost_bearer,
    repairs.settlement_status,
    repairs.settled_at,
    coalesce(covers.owner_department, 'unknown') as owner_department,
    {{ hours_between('cases.reported_at', 'repairs.made_safe_at') }} as hours_to_make_safe
from {{ ref('stg_city__repairs') }} as repairs
left join {{ ref('stg_city__cases') }} as cases on cases.case_id = repairs.case_id
left join {{ ref('stg_city__manhole_covers') }} as covers on covers.asset_id = repairs.asset_id
