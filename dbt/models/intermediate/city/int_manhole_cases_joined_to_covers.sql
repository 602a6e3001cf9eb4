-- City-management cases about manhole covers (category manhole), with the owner of the
-- cover on record. A case whose cover is not on the registry, or whose cover has no owner
-- department, has an unknown owner (权属不明): the street makes it safe first and settles
-- the cost later (先修后定).
select
    cases.case_id,
    cases.asset_id,
    cases.district_code,
    cases.street_code,
    cases.community_code,
    cases.reported_at,
    cast(cases.reported_at as date) as reported_date,
    cases.closed_at,
    covers.owner_department,
    coalesce(covers.owner_known, false) and covers.owner_department is not null as owner_known
from {{ ref('stg_city__cases') }} as cases
left join {{ ref('stg_city__manhole_covers') }} as covers on covers.asset_id = cases.asset_id
where cases.category_code = 'manhole'
