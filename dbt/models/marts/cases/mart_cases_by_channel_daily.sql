-- The case funnel per day, area of 1+6+N and channel (案件渠道每日): cases received, how the
-- received ones were dispatched (sent to a department, waiting in review, linked as a
-- duplicate) and cases closed. Every channel of every area on every day, quiet ones as
-- zero. Cases outside the district's geography (another jurisdiction's Open311 requests)
-- carry no area code and match no area.
with cases as (
    select
        cases.case_id,
        cases.channel_code,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cast(cases.reported_at as date) as reported_date,
        cast(cases.closed_at as date) as closed_date,
        decisions.dispatch_mode,
        decisions.routed_department
    from {{ ref('stg_funnel__cases') }} as cases
    left join {{ ref('stg_dispatch__case_decisions') }} as decisions on decisions.case_id = cases.case_id
    where cases.community_code is not null
),

closed_cases as (
    select * from cases where closed_date is not null
),

received as (
    {% set received_aggregates %}
    count(*) as cases_received,
    -- Sent to a department: dispatched automatically, or after a reviewer's decision.
    count(case when routed_department is not null then 1 end) as cases_dispatched,
    count(case when dispatch_mode = 'review' and routed_department is null then 1 end) as cases_in_review,
    count(case when dispatch_mode = 'duplicate' then 1 end) as cases_duplicate
    {% endset %}
    {{ rollup_by_level('cases', 'reported_date', received_aggregates, by=['channel_code']) }}
),

closed as (
    {{ rollup_by_level('closed_cases', 'closed_date', 'count(*) as cases_closed', by=['channel_code']) }}
)

select
    {{ area_day_columns('area_days') }},
    channels.channel_code,
    channels.channel_name,
    cast(coalesce(received.cases_received, 0) as bigint) as cases_received,
    cast(coalesce(received.cases_dispatched, 0) as bigint) as cases_dispatched,
    cast(coalesce(received.cases_in_review, 0) as bigint) as cases_in_review,
    cast(coalesce(received.cases_duplicate, 0) as bigint) as cases_duplicate,
    cast(coalesce(closed.cases_closed, 0) as bigint) as cases_closed
from ({{ area_days() }}) as area_days
cross join {{ ref('stg_reference__channels') }} as channels
left join received
    on {{ same_area_day('received', 'area_days') }} and received.channel_code = channels.channel_code
left join closed
    on {{ same_area_day('closed', 'area_days') }} and closed.channel_code = channels.channel_code
