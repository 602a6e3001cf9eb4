-- Cases reported per day and area of every level, by category, channel and source
-- (resident appeal or grid worker's patrol); combinations with no case are left out.
-- depends_on: {{ ref('stg_lake__governance_case_events') }}
with cases as (
    select cases.*
    from {{ ref('int_cases_joined_to_dispatch') }} as cases
    where cases.reported_date <= {{ as_of_date() }}
),

volume as (
    {{ rollup_by_level('cases', 'reported_date', 'count(*) as cases_reported', by=['category_code', 'channel_code', 'case_source']) }}
)

select
    volume.report_date,
    volume.level,
    volume.area_code,
    areas.area_name,
    areas.parent_code,
    areas.street_code,
    areas.community_code,
    volume.category_code,
    categories.category_name,
    volume.channel_code,
    channels.channel_name,
    volume.case_source,
    cast(volume.cases_reported as bigint) as cases_reported
from volume
inner join {{ ref('int_areas') }} as areas on areas.level = volume.level and areas.area_code = volume.area_code
left join {{ ref('stg_lake__categories') }} as categories on categories.category_code = volume.category_code
left join {{ ref('stg_lake__channels') }} as channels on channels.channel_code = volume.channel_code
