-- Cases reported per day and area of every level, by category, channel and source
-- (resident appeal or grid worker's patrol); combinations with no case are left out.
-- depends_on: {{ ref('stg_governance__case_events') }}
with cases as (
    select cases.*
    from {{ ref('int_cases_joined_to_dispatch') }} as cases
    where cases.reported_date <= {{ as_of_date() }}
),

volume as (
    {{ rollup_by_level('cases', 'reported_date', 'count(*) as cases_reported', by=['category_code', 'channel_code', 'case_source']) }}
)

select
    {{ area_day_columns('areas', day='volume.report_date') }},
    volume.category_code,
    categories.category_name,
    volume.channel_code,
    channels.channel_name,
    volume.case_source,
    cast(volume.cases_reported as bigint) as cases_reported
from volume
inner join {{ ref('int_areas') }} as areas on {{ same_area('areas', 'volume') }}
left join {{ ref('stg_reference__categories') }} as categories on categories.category_code = volume.category_code
left join {{ ref('stg_reference__channels') }} as channels on channels.channel_code = volume.channel_code
