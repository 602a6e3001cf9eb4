{#- The few expressions whose spelling differs between the duckdb and spark targets.
    Everything else in the project is SQL both engines read the same way. -#}

{#- Silver timestamps hold the source system's wall-clock time (Shenzhen) as instants
    labelled UTC; staging reads them back as that wall-clock time. The spark target runs
    its session in UTC (profiles.yml), so the value is already the wall-clock time. -#}
{% macro local_timestamp(column) -%}
    {{ return(adapter.dispatch('local_timestamp', 'civiclake')(column)) }}
{%- endmacro %}
{% macro default__local_timestamp(column) -%}cast({{ column }} as timestamp){%- endmacro %}
{% macro duckdb__local_timestamp(column) -%}timezone('UTC', {{ column }}){%- endmacro %}

{#- Whole microseconds from `start` to `finish` (negative when `finish` is earlier). -#}
{% macro microseconds_between(start, finish) -%}
    {{ return(adapter.dispatch('microseconds_between', 'civiclake')(start, finish)) }}
{%- endmacro %}
{% macro default__microseconds_between(start, finish) -%}
(unix_micros({{ finish }}) - unix_micros({{ start }}))
{%- endmacro %}
{% macro duckdb__microseconds_between(start, finish) -%}
(epoch_us({{ finish }}) - epoch_us({{ start }}))
{%- endmacro %}

{#- Hours from `start` to `finish`, as a double. -#}
{% macro hours_between(start, finish) -%}
({{ microseconds_between(start, finish) }} / 3600000000.0)
{%- endmacro %}

{#- `ts` moved by a whole number of microseconds. -#}
{% macro add_microseconds(ts, micros) -%}
    {{ return(adapter.dispatch('add_microseconds', 'civiclake')(ts, micros)) }}
{%- endmacro %}
{% macro default__add_microseconds(ts, micros) -%}
timestamp_micros(unix_micros({{ ts }}) + cast({{ micros }} as bigint))
{%- endmacro %}
{% macro duckdb__add_microseconds(ts, micros) -%}
({{ ts }} + to_microseconds(cast({{ micros }} as bigint)))
{%- endmacro %}

{#- `day` (a date) moved by `days` (an integer expression). -#}
{% macro add_days(day, days) -%}
    {{ return(adapter.dispatch('add_days', 'civiclake')(day, days)) }}
{%- endmacro %}
{% macro default__add_days(day, days) -%}date_add({{ day }}, cast({{ days }} as int)){%- endmacro %}
{% macro duckdb__add_days(day, days) -%}cast({{ day }} + cast({{ days }} as integer) as date){%- endmacro %}

{#- Continuous percentile (linear interpolation between the closest ranks). -#}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'civiclake')(column, fraction)) }}
{%- endmacro %}
{% macro default__percentile_cont(column, fraction) -%}percentile({{ column }}, {{ fraction }}){%- endmacro %}
{% macro duckdb__percentile_cont(column, fraction) -%}quantile_cont({{ column }}, {{ fraction }}){%- endmacro %}

{#- One row per day from `start_column` to `end_column` of the one-row relation `bounds`,
    in a column named `day`. -#}
{% macro date_spine(bounds, start_column, end_column) -%}
    {{ return(adapter.dispatch('date_spine', 'civiclake')(bounds, start_column, end_column)) }}
{%- endmacro %}
{% macro default__date_spine(bounds, start_column, end_column) -%}
select explode(sequence({{ start_column }}, {{ end_column }}, interval 1 day)) as day
from {{ bounds }}
where {{ start_column }} <= {{ end_column }}
{%- endmacro %}
{% macro duckdb__date_spine(bounds, start_column, end_column) -%}
select cast(t.day as date) as day
from {{ bounds }}, range(
    cast({{ bounds }}.{{ start_column }} as timestamp),
    cast({{ bounds }}.{{ end_column }} as timestamp) + interval 1 day,
    interval 1 day
) as t(day)
{%- endmacro %}

{#- Day of the week, 1 = Monday … 7 = Sunday. -#}
{% macro iso_weekday(day) -%}
    {{ return(adapter.dispatch('iso_weekday', 'civiclake')(day)) }}
{%- endmacro %}
{% macro default__iso_weekday(day) -%}(weekday({{ day }}) + 1){%- endmacro %}
{% macro duckdb__iso_weekday(day) -%}isodow({{ day }}){%- endmacro %}

{#- Incremental strategy replacing whole days: delete+insert on the day column in duckdb,
    dynamic partition overwrite of Delta in spark. -#}
{% macro day_replace_strategy() -%}
    {{ return('insert_overwrite' if target.type == 'spark' else 'delete+insert') }}
{%- endmacro %}

{#- An expression that fails the statement with `message` (an SQL string expression)
    on the rows where it is evaluated: put it in a CASE branch that must never be taken,
    so that the build stops with that message instead of writing a null. -#}
{% macro fail_with(message) -%}
    {{ return(adapter.dispatch('fail_with', 'civiclake')(message)) }}
{%- endmacro %}
{% macro default__fail_with(message) -%}raise_error({{ message }}){%- endmacro %}
{% macro duckdb__fail_with(message) -%}error({{ message }}){%- endmacro %}
