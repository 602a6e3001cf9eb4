{#- The logical date the marts are built for (`--vars '{as_of: 2026-11-25}'`); without
    it, the last day with a lifecycle event in the lake. Rerunning with the same date and
    the same lake gives the same tables. A model that calls it also declares
    `-- depends_on: {{ ref('stg_governance__case_events') }}`. -#}
{% macro as_of_date() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as date)
    {%- else -%}
        (select max(cast(occurred_at as date)) from {{ ref('stg_governance__case_events') }})
    {%- endif -%}
{%- endmacro %}
