{#- The same aggregates at every level of 1+6+N: one group-by per level over a relation
    that carries district_code, street_code and community_code, stacked. `by` names
    further grouping columns (e.g. category_code). -#}
{% macro rollup_by_level(relation, day_column, aggregates, by=[]) -%}
{%- for level in ['district', 'street', 'community'] %}
select
    {{ day_column }} as report_date,
    '{{ level }}' as level,
    {{ level }}_code as area_code,
    {%- for column in by %}
    {{ column }},
    {%- endfor %}
    {{ aggregates }}
from {{ relation }}
group by {{ day_column }}, {{ level }}_code{% for column in by %}, {{ column }}{% endfor %}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endmacro %}
