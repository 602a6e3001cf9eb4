-- Every community on every day up to the logical date, so quiet days count as zero.
select days.day as report_date, communities.community_code, communities.street_code
from {{ ref('int_days') }} as days
cross join {{ ref('stg_lake__communities') }} as communities
