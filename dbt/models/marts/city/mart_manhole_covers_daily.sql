-- Manhole covers per day and area of every level: cases reported and still open, the
-- share whose cover has no known owner, covers made safe and the hours from the report to
-- making safe (median, p90 over the covers made safe that day, recomputed at every level),
-- and the cover registry.
with case_days as (
    select
        days.day as report_date,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cases.reported_date = days.day as reported_today,
        cases.closed_at is null or cast(cases.closed_at as date) > days.day as open_end_of_day,
        cases.owner_known
    from {{ ref('int_manhole_cases_joined_to_covers') }} as cases
    inner join {{ ref('int_days') }} as days on cases.reported_date <= days.day
),

cases as (
    {% set case_aggregates %}
    cast(sum(case when reported_today then 1 else 0 end) as bigint) as cases_reported,
    cast(sum(case when reported_today and not owner_known then 1 else 0 end) as bigint)
        as cases_reported_unknown_owner,
    cast(sum(case when open_end_of_day then 1 else 0 end) as bigint) as cases_open,
    cast(sum(case when open_end_of_day and not owner_known then 1 else 0 end) as bigint)
        as cases_open_unknown_owner
    {% endset %}
    {{ rollup_by_level('case_days', 'report_date', case_aggregates) }}
),

made_safe as (
    {% set safe_aggregates %}
    cast(count(*) as bigint) as covers_made_safe,
    {{ percentile_cont('hours_to_make_safe', 0.5) }} as median_hours_to_make_safe,
    {{ percentile_cont('hours_to_make_safe', 0.9) }} as p90_hours_to_make_safe
    {% endset %}
    {{ rollup_by_level(ref('int_manhole_repairs_joined_to_cases'), 'made_safe_date', safe_aggregates) }}
),

repaired_rows as (
    select cast(repaired_at as date) as repaired_date, district_code, street_code, community_code
    from {{ ref('int_manhole_repairs_joined_to_cases') }}
    where repaired_at is not null
),

repaired as (
    {% set repaired_aggregates %}
    cast(count(*) as bigint) as covers_repaired
    {% endset %}
    {{ rollup_by_level('repaired_rows', 'repaired_date', repaired_aggregates) }}
),

cover_days as (
    select
        days.day as report_date,
        covers.district_code,
        covers.street_code,
        covers.community_code,
        coalesce(covers.owner_known, false) and covers.owner_department is not null as owner_known
    from {{ ref('stg_city__manhole_covers') }} as covers
    inner join {{ ref('int_days') }} as days on coalesce(covers.installed_on <= days.day, true)
),

covers as (
    {% set cover_aggregates %}
    cast(count(*) as bigint) as covers_registered,
    cast(sum(case when owner_known then 0 else 1 end) as bigint) as covers_unknown_owner
    {% endset %}
    {{ rollup_by_level('cover_days', 'report_date', cover_aggregates) }}
)

select
    {{ area_day_columns('area_days') }},
    coalesce(cases.cases_reported, 0) as cases_reported,
    coalesce(cases.cases_reported_unknown_owner, 0) as cases_reported_unknown_owner,
    cast(cases.cases_reported_unknown_owner as double) / nullif(cases.cases_reported, 0) as unknown_owner_share,
    coalesce(cases.cases_open, 0) as cases_open,
    coalesce(cases.cases_open_unknown_owner, 0) as cases_open_unknown_owner,
    coalesce(made_safe.covers_made_safe, 0) as covers_made_safe,
    made_safe.median_hours_to_make_safe,
    made_safe.p90_hours_to_make_safe,
    coalesce(repaired.covers_repaired, 0) as covers_repaired,
    coalesce(covers.covers_registered, 0) as covers_registered,
    coalesce(covers.covers_unknown_owner, 0) as covers_unknown_owner
{{ from_area_days(['cases', 'made_safe', 'repaired', 'covers']) }}
