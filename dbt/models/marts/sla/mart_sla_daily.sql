-- SLA by day, area of every level and category: the cases whose response or resolution
-- deadline fell on the day and how many met it (a case still open at its deadline is
-- late), and the open cases already past their deadline at the end of the day
-- (int_case_deadlines_by_area_daily), with the category's rules and the two SLA rates
-- (macros/sla_rates.sql).
select
    {{ area_day_columns('areas', day='deadlines.report_date') }},
    deadlines.category_code,
    categories.category_name,
    rules.day_basis,
    categories.sla_days,
    rules.response_hours,
    deadlines.response_due,
    deadlines.responded_on_time,
    deadlines.resolve_due,
    deadlines.resolved_on_time,
    deadlines.overdue_open,
    cast(deadlines.resolve_due - deadlines.resolved_on_time as bigint) as resolved_late,
    {{ response_rate() }} as response_rate,
    {{ on_time_rate() }} as on_time_rate
from {{ ref('int_case_deadlines_by_area_daily') }} as deadlines
inner join {{ ref('int_areas') }} as areas on {{ same_area('areas', 'deadlines') }}
left join {{ ref('stg_reference__categories') }} as categories on categories.category_code = deadlines.category_code
left join {{ ref('case_sla_rules') }} as rules on rules.category_code = deadlines.category_code
