{#- Complementary (secondary) suppression, one round. `cells` holds one row per day and
    cell (report_date, level, area_code, measure, value, suppressed); `members` names the
    cells of each equation a reader of the published numbers knows (group_id, measure,
    area_code): a parent area's measure with its children's, or an area's measures that add
    up (care = visited + overdue). A group with exactly one suppressed cell would give that
    cell away (the published ones subtracted from the total); the round suppresses a
    partner in each such group: its smallest non-suppressed cell, a cell with households
    before a zero (a zero that is the only other unknown of a sum can be worked out as 0),
    ties by area code and measure. Cells are only ever added, so repeated rounds reach a
    fixpoint; every group then has no suppressed cell or at least two. The round reads
    `cells` once, so that rounds stacked as CTEs stay linear where a CTE is inlined (Spark). -#}
{% macro complementary_suppression_round(cells, members) -%}
select
    report_date,
    level,
    area_code,
    measure,
    value,
    max(case when suppressed or (suppressed_in_group = 1 and partner_rank = 1) then 1 else 0 end) = 1
        as suppressed
from (
    select
        cells.report_date,
        cells.level,
        cells.area_code,
        cells.measure,
        cells.value,
        cells.suppressed,
        sum(case when cells.suppressed then 1 else 0 end)
            over (partition by cells.report_date, members.group_id) as suppressed_in_group,
        row_number() over (
            partition by cells.report_date, members.group_id, cells.suppressed
            order by case when cells.value > 0 then 0 else 1 end, cells.value, cells.area_code, cells.measure
        ) as partner_rank
    from {{ cells }} as cells
    inner join {{ members }} as members
        on members.measure = cells.measure and members.area_code = cells.area_code
) as grouped
group by report_date, level, area_code, measure, value
{%- endmacro %}
