-- The day spine of the marts: every day from the first report in the lake to the logical
-- date (as_of).
-- depends_on: {{ ref('stg_governance__case_events') }}
with bounds as (
    select min(cast(reported_at as date)) as first_day, {{ as_of_date() }} as last_day
    from {{ ref('stg_governance__cases') }}
)

{{ date_spine('bounds', 'first_day', 'last_day') }}
