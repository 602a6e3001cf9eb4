{#- The two SLA rates, defined here once for every mart that shows them (mart_sla_daily,
    mart_case_measures_daily; the scorecard and the leader's brief read the latter's
    columns). Each is a ratio of two counts of int_case_deadlines_by_area_daily over the
    cases whose deadline fell in the period the row covers, null when none did. A chart
    that spans several rows (days, areas, categories) divides the sums of the same two
    columns, never averages the rates.

    按时响应率 (有呼必应, response rate): responded_on_time / response_due, the cases first
    accepted at or before their response deadline.

    按期办结率 (有应必解决, on-time rate): resolved_on_time / resolve_due, the cases that stood
    closed at their resolution deadline. A case still open (or reopened) at its deadline is
    late, not left out (int_case_deadlines.resolved_on_time). -#}

{% macro response_rate() -%}
cast(responded_on_time as double) / nullif(response_due, 0)
{%- endmacro %}

{% macro on_time_rate() -%}
cast(resolved_on_time as double) / nullif(resolve_due, 0)
{%- endmacro %}
