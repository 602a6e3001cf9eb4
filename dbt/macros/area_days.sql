{#- The day × area grain of the marts: every area of 1+6+N (int_areas) on every day of the
    day spine (int_days), and the pieces every day × area mart repeats around it. -#}

{#- Every area of every level on every day up to the logical date, so that quiet days
    count as zero: report_date and the area columns of int_areas (see area_day_columns). -#}
{% macro area_days() -%}
select days.day as report_date, areas.*
from {{ ref('int_days') }} as days
cross join {{ ref('int_areas') }} as areas
{%- endmacro %}

{#- The FROM clause of a day × area mart: the area-day spine as `area_days`, with each
    relation of `measures` (keyed by report_date, level and area_code) left-joined to it,
    so that an area with nothing that day still has its row. -#}
{% macro from_area_days(measures) -%}
from ({{ area_days() }}) as area_days
{%- for relation in measures %}
left join {{ relation }} on {{ same_area_day(relation, 'area_days') }}
{%- endfor %}
{%- endmacro %}

{#- The columns that place a mart's row in 1+6+N: its day (`day`, by default the
    report_date of `areas`), then from `areas` (int_areas, the area-day spine, or a mart
    carrying them) the level, the area, its parent, and the street and community codes
    row-level security filters on. -#}
{% macro area_day_columns(areas, day=none) -%}
{{ day or areas ~ '.report_date' }},
{%- for column in ['level', 'area_code', 'area_name', 'parent_code', 'street_code', 'community_code'] %}
    {{ areas }}.{{ column }}{% if not loop.last %},{% endif %}
{%- endfor %}
{%- endmacro %}

{#- Join condition: `left` and `right` are the same area (level and area_code) and agree
    on the further key columns `by`. -#}
{% macro same_area(left, right, by=[]) -%}
{{ left }}.level = {{ right }}.level and {{ left }}.area_code = {{ right }}.area_code
{%- for column in by %} and {{ left }}.{{ column }} = {{ right }}.{{ column }}{% endfor %}
{%- endmacro %}

{#- Join condition: `left` and `right` are the same area on the same report_date. -#}
{% macro same_area_day(left, right, by=[]) -%}
{{ left }}.report_date = {{ right }}.report_date and {{ same_area(left, right, by) }}
{%- endmacro %}
