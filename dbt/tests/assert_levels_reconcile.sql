-- Additive measures reconcile across 1+6+N: the district equals the sum of its streets,
-- each street the sum of its communities, in every mart that has levels.
with by_level as (
    {{ level_mismatches('mart_cases_by_level_daily', ['cases_reported', 'cases_closed']) }}
),

measures as (
    {{ level_mismatches('mart_case_measures_daily', [
        'cases_reported', 'cases_dispatched', 'dispatches', 'transfers', 'acceptances', 'handlings',
        'returns_for_rework', 'closures', 'closures_after_feedback', 'reopens', 'backlog_open',
        'overdue_open', 'response_due', 'responded_on_time', 'resolve_due', 'resolved_on_time',
        'satisfaction_ratings', 'satisfaction_points', 'dispatched_automatically',
        'dispatched_by_reviewer', 'linked_as_duplicate'
    ]) }}
),

volume as (
    {{ level_mismatches('mart_case_volume_daily', ['cases_reported'], by=['category_code', 'channel_code', 'case_source']) }}
),

sla as (
    {{ level_mismatches('mart_sla_daily', ['response_due', 'responded_on_time', 'resolve_due', 'resolved_on_time', 'overdue_open'], by=['category_code']) }}
)

select * from by_level
union all
select * from measures
union all
select * from volume
union all
select * from sla
