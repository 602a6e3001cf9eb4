{#- Run at the start of every dbt invocation (dbt_project.yml, on-run-start): the logical
    date it was given (`--vars '{as_of: …}'`, null without), written into the build file,
    where `civiclake marts publish` reads it to record the day of a publication together
    with the lake versions the build read. Outside the marts (schema civiclake_build), so
    it is never published. The duckdb target only: the spark target is not published. -#}
{% macro record_build_run() -%}
    {%- if target.type == 'duckdb' -%}
        {%- set as_of = var('as_of', none) -%}
        create schema if not exists civiclake_build;
        create or replace table civiclake_build.run as
        select {{ "'" ~ as_of ~ "'" if as_of else 'null' }}::varchar as as_of
    {%- endif -%}
{%- endmacro %}
