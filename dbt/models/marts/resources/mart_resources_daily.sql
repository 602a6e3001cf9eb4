-- Cameras, vehicles and teams per day, area of every level, kind, type and status, from
-- the registry versions valid that day (int_resource_days). Vehicles and street teams
-- belong to a street, not a community: they appear on district and street rows only.
-- Combinations with nothing registered are left out.
with counted as (
    {% set aggregates %}
    cast(count(*) as bigint) as resources,
    cast(sum(member_count) as bigint) as team_members
    {% endset %}
    {{ rollup_by_level(ref('int_resource_days'), 'report_date', aggregates, by=['resource_kind', 'resource_type', 'status']) }}
)

select
    {{ area_day_columns('areas', day='counted.report_date') }},
    counted.resource_kind,
    counted.resource_type,
    counted.status,
    counted.resources,
    counted.team_members
from counted
inner join {{ ref('int_areas') }} as areas on {{ same_area('areas', 'counted') }}
