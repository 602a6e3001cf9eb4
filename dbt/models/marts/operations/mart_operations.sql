-- One row per joint operation (联合行动) started by the end of the logical date: its plan and
-- area (names, codes, the area's centre for the map), how it started, its orders by state as
-- of the end of the day (mart_operation_orders) and its status: completed when every order
-- is, overdue while any order is late and not done (overdue or escalated), running otherwise;
-- once completed, the minutes from the start to the last completion.
with orders as (
    select * from {{ ref('mart_operation_orders') }}
),

by_operation as (
    select
        operation_id,
        cast(count(*) as bigint) as orders,
        cast(sum(case when order_state = 'completed' then 1 else 0 end) as bigint) as completed,
        cast(sum(case when order_state = 'accepted' then 1 else 0 end) as bigint) as accepted,
        cast(sum(case when order_state in ('overdue', 'escalated') then 1 else 0 end) as bigint) as overdue,
        cast(sum(case when escalation_order_id is not null then 1 else 0 end) as bigint) as escalated,
        cast(sum(case when is_late then 1 else 0 end) as bigint) as late,
        max(completed_at) as last_completed_at,
        max(as_of_date) as as_of_date
    from orders
    group by operation_id
),

communities as (
    select community_code, street_code, centroid_lon, centroid_lat
    from {{ ref('stg_reference__communities') }}
),

-- The centre of an area: a community's own; a street's and the district's, the mean of
-- their communities' centres (as mart_resource_map places street resources).
centres as (
    select community_code as area_code, centroid_lon as lon, centroid_lat as lat from communities
    union all
    select street_code as area_code, avg(centroid_lon) as lon, avg(centroid_lat) as lat
    from communities
    group by street_code
    union all
    select districts.district_code as area_code, avg(communities.centroid_lon) as lon, avg(communities.centroid_lat) as lat
    from communities
    cross join {{ ref('stg_reference__districts') }} as districts
    group by districts.district_code
),

reported as (
    select
        operations.operation_id,
        operations.plan_id,
        operations.plan_name,
        operations.area_level,
        operations.area_code,
        areas.area_name,
        operations.district_code,
        operations.street_code,
        operations.community_code,
        operations.started_at,
        operations.started_by,
        operations.trigger_detail,
        operations.note,
        by_operation.orders,
        by_operation.completed,
        by_operation.accepted,
        by_operation.overdue,
        by_operation.escalated,
        by_operation.late,
        case
            when by_operation.completed = by_operation.orders then 'completed'
            when by_operation.overdue > 0 then 'overdue'
            else 'running'
        end as status,
        case
            when by_operation.completed = by_operation.orders then by_operation.last_completed_at
        end as completed_at,
        centres.lon,
        centres.lat,
        by_operation.as_of_date
    from {{ ref('stg_operations__operations') }} as operations
    inner join by_operation on operations.operation_id = by_operation.operation_id
    left join {{ ref('int_areas') }} as areas
        on operations.area_code = areas.area_code and operations.area_level = areas.level
    left join centres on operations.area_code = centres.area_code
)

select
    operation_id,
    plan_id,
    plan_name,
    area_level,
    area_code,
    area_name,
    district_code,
    street_code,
    community_code,
    started_at,
    started_by,
    case started_by
        when 'manual' then '人工启动'
        when 'case_cluster' then '案件聚集'
        when 'camera_cluster' then '视频事件聚集'
        when 'weather_warning' then '气象预警'
    end as started_by_zh,
    trigger_detail,
    note,
    orders,
    completed,
    accepted,
    overdue,
    escalated,
    late,
    status,
    case status when 'completed' then '已完成' when 'overdue' then '超时' else '进行中' end as status_zh,
    completed_at,
    case
        when completed_at is not null
            then cast({{ microseconds_between('started_at', 'completed_at') }} / 60000000.0 as double)
    end as minutes_to_complete,
    cast(lon as double) as lon,
    cast(lat as double) as lat,
    as_of_date
from reported
