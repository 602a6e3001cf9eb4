-- depends_on: {{ ref('stg_governance__case_events') }}
-- The 先修后定 ledger as of the run's logical date: manhole repairs made safe by then, by
-- community, owner and age since the repair (0-30, 31-90, 91-180, >180 days). A repair's
-- settlement state and owner are those of its settlement events up to the day (silver keeps
-- every step): outstanding = not settled and not borne by the street, its amount the cost
-- less what was recovered. Beside it, the steps of the last 30 days (the period).
{% set period_days = 30 %}
with as_of as (
    select {{ as_of_date() }} as as_of_date
),

events as (
    select
        events.*,
        as_of.as_of_date
    from {{ ref('stg_city__settlement_events') }} as events
    cross join as_of
    where cast(events.occurred_at as date) <= as_of.as_of_date
),

ranked as (
    select
        repair_id,
        to_status,
        row_number() over (partition by repair_id order by occurred_at desc, event_id desc) as recency
    from events
),

by_repair as (
    select
        repair_id,
        max(case when step = 'claim' then owner end) as claimed_by,
        sum(case when step = 'recover' then amount_yuan else 0 end) as recovered_yuan,
        sum(case when step = 'claim' and cast(occurred_at as date) > {{ add_days('as_of_date', -period_days) }} then 1 else 0 end) as claims,
        sum(case when step = 'recover' and cast(occurred_at as date) > {{ add_days('as_of_date', -period_days) }} then 1 else 0 end) as recoveries,
        sum(case when step = 'recover' and cast(occurred_at as date) > {{ add_days('as_of_date', -period_days) }} then amount_yuan else 0 end) as recovered_in_period,
        sum(case when step = 'settle' and cast(occurred_at as date) > {{ add_days('as_of_date', -period_days) }} then 1 else 0 end) as settlements,
        sum(case when step = 'street_bears' and cast(occurred_at as date) > {{ add_days('as_of_date', -period_days) }} then 1 else 0 end) as borne_by_street
    from events
    group by repair_id
),

repairs as (
    select
        repairs.repair_id,
        repairs.community_code,
        -- A repair settled before the system kept its steps has no event: its row's status
        -- once settled by the day, as mart_manhole_repair_costs reads it.
        coalesce(
            ranked.to_status,
            case
                when repairs.settled_at is not null and cast(repairs.settled_at as date) <= as_of.as_of_date
                    then repairs.settlement_status
                else 'pending'
            end
        ) as settlement_status,
        coalesce(by_repair.claimed_by, '未认领') as owner,
        repairs.cost_yuan,
        coalesce(by_repair.recovered_yuan, 0) as recovered_yuan,
        {{ dbt.datediff('cast(coalesce(repairs.repaired_at, repairs.made_safe_at) as date)', 'as_of.as_of_date', 'day') }} as age_days,
        coalesce(by_repair.claims, 0) as claims,
        coalesce(by_repair.recoveries, 0) as recoveries,
        coalesce(by_repair.recovered_in_period, 0) as recovered_in_period,
        coalesce(by_repair.settlements, 0) as settlements,
        coalesce(by_repair.borne_by_street, 0) as borne_by_street,
        as_of.as_of_date
    from {{ ref('stg_city__repairs') }} as repairs
    cross join as_of
    left join ranked on ranked.repair_id = repairs.repair_id and ranked.recency = 1
    left join by_repair on by_repair.repair_id = repairs.repair_id
    where cast(repairs.made_safe_at as date) <= as_of.as_of_date
),

bucketed as (
    select
        *,
        settlement_status in ('pending', 'claimed', 'cost_recovered') as outstanding,
        case
            when age_days <= 30 then 1
            when age_days <= 90 then 2
            when age_days <= 180 then 3
            else 4
        end as age_bucket_order
    from repairs
),

grouped as (
    select
        as_of_date,
        community_code,
        owner,
        age_bucket_order,
        cast(sum(case when outstanding then 1 else 0 end) as bigint) as outstanding_repairs,
        round(sum(case when outstanding then coalesce(cost_yuan, 0) - recovered_yuan else 0 end), 2) as outstanding_yuan,
        cast(sum(case when outstanding and settlement_status = 'pending' then 1 else 0 end) as bigint) as pending_repairs,
        cast(sum(claims) as bigint) as claims_in_period,
        cast(sum(recoveries) as bigint) as recoveries_in_period,
        round(sum(recovered_in_period), 2) as recovered_yuan_in_period,
        cast(sum(settlements) as bigint) as settlements_in_period,
        cast(sum(borne_by_street) as bigint) as borne_by_street_in_period
    from bucketed
    group by as_of_date, community_code, owner, age_bucket_order
)

select
    grouped.as_of_date,
    {{ add_days('grouped.as_of_date', 1 - period_days) }} as period_start,
    communities.district_code,
    districts.district_name,
    communities.street_code,
    streets.street_name,
    grouped.community_code,
    communities.community_name,
    grouped.owner,
    case grouped.age_bucket_order
        when 1 then '0-30'
        when 2 then '31-90'
        when 3 then '91-180'
        else '>180'
    end as age_bucket,
    grouped.age_bucket_order,
    grouped.outstanding_repairs,
    grouped.outstanding_yuan,
    grouped.pending_repairs,
    grouped.claims_in_period,
    grouped.recoveries_in_period,
    grouped.recovered_yuan_in_period,
    grouped.settlements_in_period,
    grouped.borne_by_street_in_period
from grouped
inner join (
    select communities.community_code, communities.community_name, communities.street_code, streets.district_code
    from {{ ref('stg_reference__communities') }} as communities
    inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = communities.street_code
) as communities on communities.community_code = grouped.community_code
inner join {{ ref('stg_reference__streets') }} as streets on streets.street_code = communities.street_code
inner join {{ ref('stg_reference__districts') }} as districts on districts.district_code = communities.district_code
where grouped.outstanding_repairs > 0
    or grouped.claims_in_period + grouped.recoveries_in_period + grouped.settlements_in_period
    + grouped.borne_by_street_in_period > 0
