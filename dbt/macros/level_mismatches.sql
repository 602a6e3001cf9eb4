{#- Rows of `model` (with level, area_code, parent_code, report_date) where an additive
    measure of the district differs from the sum over its streets, or a street's from the
    sum over its communities; `by` names further key columns (e.g. category_code). A
    missing child row counts as zero. -#}
{% macro level_mismatches(model, measures, by=[]) -%}
{%- set keys = ['report_date'] + by -%}
with rows_ as (select * from {{ ref(model) }}),
{%- for parent, child in [('district', 'street'), ('street', 'community')] %}
{{ parent }}_vs_{{ child }} as (
    select '{{ model }}' as model_name, parent.level, parent.area_code, parent.report_date
    from rows_ as parent
    left join (
        select parent_code, {{ keys | join(', ') }},
            {%- for m in measures %} sum({{ m }}) as {{ m }}{% if not loop.last %},{% endif %}{% endfor %}
        from rows_ where level = '{{ child }}'
        group by parent_code, {{ keys | join(', ') }}
    ) as children
        on children.parent_code = parent.area_code
        {%- for k in keys %} and children.{{ k }} = parent.{{ k }}{% endfor %}
    where parent.level = '{{ parent }}'
        and ({% for m in measures %}parent.{{ m }} <> coalesce(children.{{ m }}, 0){% if not loop.last %} or {% endif %}{% endfor %})
){% if not loop.last %},{% endif %}
{%- endfor %}
select * from district_vs_street
union all
select * from street_vs_community
{%- endmacro %}
