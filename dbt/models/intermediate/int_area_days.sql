-- Every area of every level on every day up to the logical date.
select days.day as report_date, areas.*
from {{ ref('int_days') }} as days
cross join {{ ref('int_areas') }} as areas
