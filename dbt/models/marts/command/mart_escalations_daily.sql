-- Escalations of three-level linkage (三级联动) per day and area of 1+6+N: the escalation
-- orders issued that day for the area's cases, by the level they sent the case to, and
-- how many went up because the category is beyond a community's competence rather than
-- because the lower level did not accept in time.
-- depends_on: {{ ref('stg_governance__case_events') }}
with escalations as (
    select
        cast(orders.issued_at as date) as issued_date,
        orders.level as to_level,
        orders.reason,
        cases.district_code,
        cases.street_code,
        cases.community_code
    from {{ ref('int_dispatch_orders') }} as orders
    -- Every channel's cases (the case funnel): city management's and Open311's escalate too.
    inner join {{ ref('stg_funnel__cases') }} as cases on cases.case_id = orders.case_id
    where orders.kind = 'escalation' and cast(orders.issued_at as date) <= {{ as_of_date() }}
),

counts as (
    {% set aggregates %}
    count(*) as escalations,
    sum(case when to_level = 'street' then 1 else 0 end) as escalated_to_street,
    sum(case when to_level = 'district' then 1 else 0 end) as escalated_to_district,
    sum(case when reason like 'beyond_community.%' then 1 else 0 end) as escalated_beyond_competence
    {% endset %}
    {{ rollup_by_level('escalations', 'issued_date', aggregates) }}
)

select
    {{ area_day_columns('area_days') }},
    cast(coalesce(counts.escalations, 0) as bigint) as escalations,
    cast(coalesce(counts.escalated_to_street, 0) as bigint) as escalated_to_street,
    cast(coalesce(counts.escalated_to_district, 0) as bigint) as escalated_to_district,
    cast(coalesce(counts.escalated_beyond_competence, 0) as bigint) as escalated_beyond_competence
{{ from_area_days(['counts']) }}
