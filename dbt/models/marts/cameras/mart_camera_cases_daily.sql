-- The camera channel per day and area of 1+6+N (视频渠道案件每日): cases from the cameras
-- and how they were dispatched, which of a camera's and a person's report of the same
-- problem came first, and how long cases took from the first frame to the funnel and
-- from report to close. Counts add up from community to district; medians and p90s are
-- taken over each area's own cases, never averaged from below.
--
-- A camera case is a funnel case of channel `camera`: the frame model's events
-- (source_system camera, case_id = event_id) and the city-management system's own AI
-- camera cases. A linked pair is a case the scoring job linked as a duplicate
-- (duplicate_of) to an earlier open case, where one of the two is a camera case and the
-- other came from a person (any other channel); it was first seen by a camera when the
-- earlier case, the one linked to, is the camera's. A pair is counted on the day and in
-- the area of the later case, when and where the link was made.
-- depends_on: {{ ref('stg_governance__case_events') }}
with cases as (
    select
        cases.case_id,
        cases.channel_code = 'camera' as is_camera,
        cases.district_code,
        cases.street_code,
        cases.community_code,
        cases.reported_at,
        cases.closed_at,
        decisions.dispatch_mode,
        decisions.duplicate_of_case_id
    from {{ ref('stg_funnel__cases') }} as cases
    left join {{ ref('stg_dispatch__case_decisions') }} as decisions on decisions.case_id = cases.case_id
    where cases.community_code is not null
),

camera_cases as (
    select
        cases.*,
        cast(cases.reported_at as date) as reported_date,
        cast(cases.closed_at as date) as closed_date,
        -- The frame model's cases: from the event's first frame to the case in the funnel.
        -- The hourly run that finds an event has its landing hour's clips only once the hour
        -- is over, so a case enters the funnel no earlier than the end of that hour (the
        -- run's data interval end), nor before its own report time.
        {{ microseconds_between(
            'events.started_at',
            'greatest(cases.reported_at, ' ~ add_microseconds('events.landing_hour', 3600000000) ~ ')'
        ) }} / 60000000.0 as minutes_detection_to_case,
        {{ microseconds_between('cases.reported_at', 'cases.closed_at') }} / 60000000.0
            as minutes_case_to_close
    from cases
    left join {{ ref('stg_cameras__events') }} as events on events.event_id = cases.case_id
    where cases.is_camera
),

reported as (
    {% set reported_aggregates %}
    count(*) as camera_cases,
    sum(case when dispatch_mode = 'auto' then 1 else 0 end) as camera_cases_auto,
    sum(case when dispatch_mode = 'review' then 1 else 0 end) as camera_cases_review,
    sum(case when dispatch_mode = 'duplicate' then 1 else 0 end) as camera_cases_duplicate,
    {{ percentile_cont('minutes_detection_to_case', 0.5) }} as median_minutes_detection_to_case,
    {{ percentile_cont('minutes_detection_to_case', 0.9) }} as p90_minutes_detection_to_case
    {% endset %}
    {{ rollup_by_level('camera_cases', 'reported_date', reported_aggregates) }}
),

closed_camera_cases as (
    select * from camera_cases where closed_date is not null
),

closed as (
    {% set closed_aggregates %}
    count(*) as camera_cases_closed,
    {{ percentile_cont('minutes_case_to_close', 0.5) }} as median_minutes_case_to_close,
    {{ percentile_cont('minutes_case_to_close', 0.9) }} as p90_minutes_case_to_close
    {% endset %}
    {{ rollup_by_level('closed_camera_cases', 'closed_date', closed_aggregates) }}
),

pairs as (
    select
        later.district_code,
        later.street_code,
        later.community_code,
        cast(later.reported_at as date) as linked_date,
        earlier.is_camera as is_camera_first
    from cases as later
    inner join cases as earlier on earlier.case_id = later.duplicate_of_case_id
    -- one camera case and one person's case
    where later.is_camera <> earlier.is_camera
),

linked as (
    {% set linked_aggregates %}
    count(*) as linked_pairs,
    sum(case when is_camera_first then 1 else 0 end) as linked_pairs_camera_first
    {% endset %}
    {{ rollup_by_level('pairs', 'linked_date', linked_aggregates) }}
),

events as (
    select
        district_code,
        street_code,
        community_code,
        cast(started_at as date) as started_date
    from {{ ref('stg_cameras__events') }}
),

seen as (
    {{ rollup_by_level('events', 'started_date', 'count(*) as camera_events') }}
)

select
    {{ area_day_columns('area_days') }},
    cast(coalesce(seen.camera_events, 0) as bigint) as camera_events,
    cast(coalesce(reported.camera_cases, 0) as bigint) as camera_cases,
    cast(coalesce(reported.camera_cases_auto, 0) as bigint) as camera_cases_auto,
    cast(coalesce(reported.camera_cases_review, 0) as bigint) as camera_cases_review,
    cast(coalesce(reported.camera_cases_duplicate, 0) as bigint) as camera_cases_duplicate,
    cast(coalesce(closed.camera_cases_closed, 0) as bigint) as camera_cases_closed,
    cast(coalesce(linked.linked_pairs, 0) as bigint) as linked_pairs,
    cast(coalesce(linked.linked_pairs_camera_first, 0) as bigint) as linked_pairs_camera_first,
    cast(linked.linked_pairs_camera_first as double) / nullif(linked.linked_pairs, 0) as camera_first_share,
    cast(reported.median_minutes_detection_to_case as double) as median_minutes_detection_to_case,
    cast(reported.p90_minutes_detection_to_case as double) as p90_minutes_detection_to_case,
    cast(closed.median_minutes_case_to_close as double) as median_minutes_case_to_close,
    cast(closed.p90_minutes_case_to_close as double) as p90_minutes_case_to_close
{{ from_area_days(['seen', 'reported', 'closed', 'linked']) }}
