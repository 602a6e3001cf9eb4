-- Manhole repair costs per day, area of every level, owner department of the cover
-- ('unknown' when none is on record) and settlement status as it stood at the end of the
-- day: every repair made safe up to the day, its cost, and how much of it is settled.
-- Silver holds each repair's latest version; a repair not settled by the end of the day
-- (settled_at later or null) counts as pending that day.
with repair_days as (
    select
        days.day as report_date,
        repairs.district_code,
        repairs.street_code,
        repairs.community_code,
        repairs.owner_department,
        case
            when repairs.settled_at is not null and cast(repairs.settled_at as date) <= days.day
                then repairs.settlement_status
            else 'pending'
        end as settlement_status,
        repairs.repaired_at is not null and cast(repairs.repaired_at as date) <= days.day as repaired_by_then,
        repairs.cost_yuan
    from {{ ref('int_manhole_repairs_joined_to_cases') }} as repairs
    inner join {{ ref('int_days') }} as days on repairs.made_safe_date <= days.day
),

counted as (
    {% set aggregates %}
    cast(count(*) as bigint) as repairs,
    cast(sum(case when repaired_by_then then 1 else 0 end) as bigint) as repairs_completed,
    round(sum(coalesce(cost_yuan, 0)), 2) as cost_yuan
    {% endset %}
    {{ rollup_by_level('repair_days', 'report_date', aggregates, by=['owner_department', 'settlement_status']) }}
)

select
    {{ area_day_columns('areas', day='counted.report_date') }},
    counted.owner_department,
    counted.settlement_status,
    counted.repairs,
    counted.repairs_completed,
    counted.cost_yuan
from counted
inner join {{ ref('int_areas') }} as areas on {{ same_area('areas', 'counted') }}
