-- Camera events per hour, camera and class (视频识别事件每小时): the persistent events the
-- frame model found, counted in the wall-clock hour they started, with how many go to
-- automatic dispatch and how many to the review queue. A condition that lasts past the
-- hour is a new event in each hour it is seen (events never span landing hours), so each
-- hour's row counts what was seen in that hour. Only hours with events have rows; streets
-- and communities are sums of their cameras' rows.
-- depends_on: {{ ref('stg_governance__case_events') }}
with events as (
    select
        events.*,
        date_trunc('hour', events.started_at) as hour_start
    from {{ ref('stg_cameras__events') }} as events
    where cast(events.started_at as date) <= {{ as_of_date() }}
),

by_hour as (
    select
        hour_start,
        camera_id,
        class_code,
        -- A camera's place and a class's category are fixed; max() only picks the one value.
        max(category_code) as category_code,
        max(district_code) as district_code,
        max(street_code) as street_code,
        max(community_code) as community_code,
        max(lon) as lon,
        max(lat) as lat,
        count(*) as events,
        sum(case when is_auto_dispatch then 1 else 0 end) as auto_dispatch_events,
        sum(case when is_auto_dispatch then 0 else 1 end) as review_events,
        max(peak_score) as peak_score_max,
        sum(frames_seen) as frames_seen
    from events
    group by hour_start, camera_id, class_code
)

select
    cast(by_hour.hour_start as date) as report_date,
    cast(by_hour.hour_start as timestamp) as hour_start,
    cast(hour(by_hour.hour_start) as integer) as hour_of_day,
    by_hour.camera_id,
    by_hour.district_code,
    by_hour.street_code,
    streets.street_name,
    by_hour.community_code,
    communities.community_name,
    round(by_hour.lon, 6) as lon,
    round(by_hour.lat, 6) as lat,
    by_hour.class_code,
    by_hour.category_code,
    categories.category_name,
    cast(by_hour.events as bigint) as events,
    cast(by_hour.auto_dispatch_events as bigint) as auto_dispatch_events,
    cast(by_hour.review_events as bigint) as review_events,
    cast(by_hour.peak_score_max as double) as peak_score_max,
    cast(by_hour.frames_seen as bigint) as frames_seen
from by_hour
left join {{ ref('stg_reference__streets') }} as streets on streets.street_code = by_hour.street_code
left join {{ ref('stg_reference__communities') }} as communities
    on communities.community_code = by_hour.community_code
left join {{ ref('stg_reference__categories') }} as categories
    on categories.category_code = by_hour.category_code
