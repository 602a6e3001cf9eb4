-- depends_on: {{ ref('stg_governance__case_events') }}
-- The ledger's outstanding amount and repairs equal those of the repairs as the city system
-- holds them (silver city_repairs' settlement_status, cost less what its events recovered),
-- for repairs made safe by the logical date. Checked when the lake holds no settlement step
-- and no settlement after that date (a rerun of an earlier day sees later states in the
-- repair rows).
with as_of as (
    select {{ as_of_date() }} as as_of_date
),

recovered as (
    select repair_id, sum(coalesce(amount_yuan, 0)) as recovered_yuan
    from {{ ref('stg_city__settlement_events') }}
    group by repair_id
),

expected as (
    select
        cast(count(*) as bigint) as repairs,
        round(coalesce(sum(coalesce(repairs.cost_yuan, 0) - coalesce(recovered.recovered_yuan, 0)), 0), 2) as yuan
    from {{ ref('stg_city__repairs') }} as repairs
    cross join as_of
    left join recovered on recovered.repair_id = repairs.repair_id
    where repairs.settlement_status in ('pending', 'claimed', 'cost_recovered')
        and cast(repairs.made_safe_at as date) <= as_of.as_of_date
),

ledger as (
    select
        cast(coalesce(sum(outstanding_repairs), 0) as bigint) as repairs,
        round(coalesce(sum(outstanding_yuan), 0), 2) as yuan
    from {{ ref('mart_manhole_ledger') }}
),

later_steps as (
    select count(*) as steps
    from {{ ref('stg_city__settlement_events') }}
    cross join as_of
    where cast(occurred_at as date) > as_of.as_of_date
    union all
    select count(*) as steps
    from {{ ref('stg_city__repairs') }}
    cross join as_of
    where cast(settled_at as date) > as_of.as_of_date
)

select expected.repairs as expected_repairs, ledger.repairs as ledger_repairs,
    expected.yuan as expected_yuan, ledger.yuan as ledger_yuan
from expected
cross join ledger
where (select sum(steps) from later_steps) = 0
    and (expected.repairs <> ledger.repairs or abs(expected.yuan - ledger.yuan) > 0.01)
