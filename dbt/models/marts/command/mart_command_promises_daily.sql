-- The seed's three promises measured on what was delivered and what residents were told,
-- per day and area of 1+6+N (命令闭环的三个承诺):
--   有呼必应 every call answered: of the dispatch orders issued that day (dispatch,
--            transfer, escalation), those the receiving department accepted by the logical
--            date; an order superseded by an escalation without acceptance was not answered.
--   有应必解决 every answer resolved: of the cases first answered that day (their first
--            accepted order), those closed by the logical date.
--   有解决必反馈 every resolution fed back: of the cases closed that day, those whose
--            handling department wrote the resident an answer (feedback_text not blank); a
--            case closed without feedback text was not fed back, whatever its events say.
-- And the aim of three-level linkage, 解决在社区: of the cases closed that day that had
-- orders, the share never sent above the community.
-- Orders are those of every channel; the case measures (answered, resolved, fed back) are
-- the governance system's cases, the ones whose department writes the resident an answer.
-- depends_on: {{ ref('stg_governance__case_events') }}
with bounds as (
    select {{ as_of_date() }} as last_day, cast({{ add_days(as_of_date(), 1) }} as timestamp) as checked_until
),

orders as (
    select orders.*, cases.district_code, cases.street_code, cases.community_code
    from {{ ref('int_dispatch_orders') }} as orders
    cross join bounds
    -- Orders of every channel (the case funnel) count toward 有呼必应.
    inner join {{ ref('stg_funnel__cases') }} as cases on cases.case_id = orders.case_id
    where orders.issued_at < bounds.checked_until
),

escalated_from as (
    select distinct previous_order_id as order_id from orders where kind = 'escalation'
),

issued as (
    select
        cast(orders.issued_at as date) as issued_date,
        orders.district_code,
        orders.street_code,
        orders.community_code,
        orders.accepted_at is not null and orders.accepted_at < bounds.checked_until as is_answered,
        escalated_from.order_id is not null and (orders.accepted_at is null or orders.accepted_at >= bounds.checked_until)
            as is_escalated_unanswered
    from orders
    cross join bounds
    left join escalated_from on escalated_from.order_id = orders.order_id
),

calls as (
    {% set call_aggregates %}
    count(*) as orders_issued,
    sum(case when is_answered then 1 else 0 end) as orders_answered,
    sum(case when is_escalated_unanswered then 1 else 0 end) as orders_escalated_unanswered
    {% endset %}
    {{ rollup_by_level('issued', 'issued_date', call_aggregates) }}
),

case_orders as (
    select
        orders.case_id,
        min(case when orders.accepted_at < bounds.checked_until then orders.accepted_at end) as first_answered_at,
        max(case orders.level when 'community' then 1 when 'street' then 2 else 3 end) as highest_level_rank
    from orders
    cross join bounds
    group by orders.case_id
),

cases as (
    select
        cases.case_id,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cases.status = 'closed' and cases.closed_at < bounds.checked_until as is_closed,
        cast(cases.closed_at as date) as closed_date,
        cases.feedback_text is not null and trim(cases.feedback_text) <> '' as has_feedback_text,
        case_orders.first_answered_at,
        cast(case_orders.first_answered_at as date) as answered_date,
        case_orders.highest_level_rank
    from {{ ref('stg_governance__cases') }} as cases
    cross join bounds
    left join case_orders on case_orders.case_id = cases.case_id
),

answered as (
    select * from cases where first_answered_at is not null
),

answers as (
    {% set answer_aggregates %}
    count(*) as cases_answered,
    sum(case when is_closed then 1 else 0 end) as cases_answered_resolved
    {% endset %}
    {{ rollup_by_level('answered', 'answered_date', answer_aggregates) }}
),

closed as (
    select * from cases where is_closed
),

closures as (
    {% set closure_aggregates %}
    count(*) as closures,
    sum(case when has_feedback_text then 1 else 0 end) as closures_with_feedback_text,
    sum(case when highest_level_rank is not null then 1 else 0 end) as closures_with_orders,
    sum(case when highest_level_rank = 1 then 1 else 0 end) as resolved_at_community,
    sum(case when highest_level_rank = 2 then 1 else 0 end) as resolved_at_street,
    sum(case when highest_level_rank = 3 then 1 else 0 end) as resolved_at_district
    {% endset %}
    {{ rollup_by_level('closed', 'closed_date', closure_aggregates) }}
),

counts as (
    select
        {{ area_day_columns('area_days') }},
        cast(coalesce(calls.orders_issued, 0) as bigint) as orders_issued,
        cast(coalesce(calls.orders_answered, 0) as bigint) as orders_answered,
        cast(coalesce(calls.orders_escalated_unanswered, 0) as bigint) as orders_escalated_unanswered,
        cast(coalesce(answers.cases_answered, 0) as bigint) as cases_answered,
        cast(coalesce(answers.cases_answered_resolved, 0) as bigint) as cases_answered_resolved,
        cast(coalesce(closures.closures, 0) as bigint) as closures,
        cast(coalesce(closures.closures_with_feedback_text, 0) as bigint) as closures_with_feedback_text,
        cast(coalesce(closures.closures_with_orders, 0) as bigint) as closures_with_orders,
        cast(coalesce(closures.resolved_at_community, 0) as bigint) as resolved_at_community,
        cast(coalesce(closures.resolved_at_street, 0) as bigint) as resolved_at_street,
        cast(coalesce(closures.resolved_at_district, 0) as bigint) as resolved_at_district
    {{ from_area_days(['calls', 'answers', 'closures']) }}
)

select
    counts.*,
    cast(orders_answered as double) / nullif(orders_issued, 0) as answer_rate,
    cast(cases_answered_resolved as double) / nullif(cases_answered, 0) as resolve_rate,
    cast(closures_with_feedback_text as double) / nullif(closures, 0) as feedback_text_rate,
    cast(resolved_at_community as double) / nullif(closures_with_orders, 0) as community_resolution_share
from counts
